"""Full-text search over catalogue tables, behind one function.

A searchable model keeps a `search_text` column (its title, description, keywords, identifiers), kept
current by `Searchable.save()` and the services. The index is the database's own: an external-content
FTS5 table kept in sync by triggers on SQLite, a GIN index over `to_tsvector` on PostgreSQL. On SQLite
the FTS5 table is reached through an unmanaged "search entry" model joined on rowid, so the ranked
search stays an ordinary, lazily paginated queryset.
"""
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection, migrations, models
from django.db.models import Lookup, QuerySet
from django.db.models.expressions import RawSQL

MAX_TERMS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


class Searchable(models.Model):
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        abstract = True

    def search_document(self) -> str:
        raise NotImplementedError

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = self.search_document()
        super().save(*args, **kwargs)


class FullTextMatchField(models.TextField):
    """The FTS5 hidden column named after its table; only `__match` makes sense on it."""


@FullTextMatchField.register_lookup
class Match(Lookup):
    lookup_name = "match"

    def as_sql(self, compiler: Any, conn: Any) -> tuple[str, list]:
        lhs, lhs_params = self.process_lhs(compiler, conn)
        rhs, rhs_params = self.process_rhs(compiler, conn)
        return f"{lhs} MATCH {rhs}", [*lhs_params, *rhs_params]


def search_terms(query: str) -> list[str]:
    return _WORD.findall(query)[:MAX_TERMS]


def fts5_expression(terms: list[str]) -> str:
    """Every term quoted (so no FTS5 syntax reaches the engine) and required; the last one may be a
    prefix, as when typing (prefix queries merge many doclists, so earlier words match whole)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    return " ".join(quoted) + "*"


def full_text_search(queryset: QuerySet, query: str, *, entry: str = "search_entry"):
    """Rows of `queryset` matching every word of `query`, best first; none if it has no words.

    A queryset, or on SQLite for an unfiltered table a `RankedMatches` (counted and paged by the index
    alone; it slices, counts and iterates like a queryset)."""
    terms = search_terms(query)
    if not terms:
        return queryset.none()
    postgresql = connection.vendor == "postgresql"
    expression = tsquery_expression(terms) if postgresql else fts5_expression(terms)
    if not queryset.query.where:
        index = (_IndexSql.postgresql if postgresql else _IndexSql.sqlite)(queryset.model._meta.db_table)
        return RankedMatches(queryset, expression, index)
    if postgresql:
        return _postgres_search(queryset, expression)
    return queryset.filter(**{f"{entry}__document__match": expression}).order_by(f"{entry}__rank", "-pk")


RANK_WINDOW = 2000


@dataclass(frozen=True)
class _IndexSql:
    """How to ask one database's full-text index for matching ids and their rank."""

    matches: str  # "FROM ... WHERE <match %s>", the expression its one parameter
    id: str
    rank: str  # a select-list expression, smaller is better
    rank_takes_expression: bool

    @classmethod
    def sqlite(cls, table: str) -> "_IndexSql":
        fts = f"{table}_fts"
        return cls(f"FROM {fts} WHERE {fts} MATCH %s", "rowid", "rank", False)

    @classmethod
    def postgresql(cls, table: str) -> "_IndexSql":
        return cls(f"FROM {table} WHERE search_vector @@ to_tsquery('simple', %s)", "id",
                   "-ts_rank(search_vector, to_tsquery('simple', %s))", True)


class RankedMatches:
    """Matches of a whole table, paged from the index: the newest `RANK_WINDOW` matches come first,
    best first (bm25 / ts_rank); older matches follow, newest first. Ranking every match of a broad
    query over a million rows costs ~80 ms; one pass over a bounded window of the index gives the first
    pages, their order and, below the window's size, the exact count."""

    def __init__(self, queryset: QuerySet, expression: str, index: _IndexSql) -> None:
        self.queryset, self.expression, self.index = queryset, expression, index
        self._window: list[int] | None = None
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            window = self._ranked_window()
            self._count = (len(window) if len(window) < RANK_WINDOW
                           else self._scalar(f"SELECT count(*) {self.index.matches}", []))
        return self._count

    def count_up_to(self, limit: int) -> int:
        """min(count, limit), reading at most max(limit, RANK_WINDOW) entries of the index."""
        window = self._ranked_window()
        if self._count is not None or len(window) < RANK_WINDOW:
            return min(self.count(), limit)
        if limit <= RANK_WINDOW:
            return limit
        return self._scalar(f"SELECT count(*) FROM (SELECT {self.index.id} {self.index.matches} LIMIT %s) AS m",
                            [limit])

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[0:self.count()])

    def __getitem__(self, index):
        if isinstance(index, int):
            return self[index:index + 1][0]
        start, stop = index.start or 0, index.stop if index.stop is not None else self.count()
        ids = self._ranked_window()[start:min(stop, RANK_WINDOW)] + self._older_ids(max(start, RANK_WINDOW), stop)
        rows = self.queryset.in_bulk(ids)
        return [rows[pk] for pk in ids if pk in rows]

    def _ranked_window(self) -> list[int]:
        """Ids of the newest RANK_WINDOW matches, best first (newest first among equals)."""
        if self._window is None:
            index = self.index
            rank_params = [self.expression] if index.rank_takes_expression else []
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {index.id}, {index.rank} {index.matches} ORDER BY {index.id} DESC LIMIT %s",
                               [*rank_params, self.expression, RANK_WINDOW])
                rows = cursor.fetchall()
            self._window = [pk for pk, _ in sorted(rows, key=lambda row: (row[1], -row[0]))]
        return self._window

    def _older_ids(self, start: int, stop: int) -> list[int]:
        window = self._ranked_window()
        if stop <= RANK_WINDOW or start >= stop or len(window) < RANK_WINDOW:
            return []
        index = self.index
        return self._ids(f"SELECT {index.id} {index.matches} AND {index.id} < %s "
                         f"ORDER BY {index.id} DESC LIMIT %s OFFSET %s",
                         [min(window), stop - start, start - RANK_WINDOW])

    def _ids(self, sql: str, params: list) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.expression, *params])
            return [row[0] for row in cursor.fetchall()]

    def _scalar(self, sql: str, params: list) -> int | None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.expression, *params])
            row = cursor.fetchone()
        return row[0] if row else None


def count_up_to(results: "QuerySet | RankedMatches", limit: int) -> int:
    """min(number of results, limit): a broad query over a million rows is not counted to the end."""
    if isinstance(results, RankedMatches):
        return results.count_up_to(limit)
    return results.order_by()[:limit].count()


class CappedCountPaginator(Paginator):
    """Counts at most ESAP_SEARCH_COUNT_CAP results (`count_is_exact` tells whether it stopped), as large
    search engines do: counting every match of a broad query costs more than finding the first page,
    and nobody pages through a million matches. Pages past the cap are refused; refine the query."""

    @cached_property
    def _counted(self) -> int:
        return count_up_to(self.object_list, settings.ESAP_SEARCH_COUNT_CAP + 1)

    @cached_property
    def count(self) -> int:
        return min(self._counted, settings.ESAP_SEARCH_COUNT_CAP)

    @property
    def count_is_exact(self) -> bool:
        return self._counted <= settings.ESAP_SEARCH_COUNT_CAP


def tsquery_expression(terms: list[str]) -> str:
    """`a & b:*`: the same semantics as on SQLite (all words, the last a prefix). Terms are \\w+ words,
    so no tsquery operator can come from user text; quoting keeps digits-and-letters words literal."""
    quoted = ["'" + term.replace("'", "''").replace("\\", "") + "'" for term in terms]
    return " & ".join(quoted) + ":*"


def _postgres_search(queryset: QuerySet, expression: str) -> QuerySet:
    """A filtered queryset (visibility, source) searched on the stored `search_vector` column."""
    table = queryset.model._meta.db_table
    rank = RawSQL(f"ts_rank({table}.search_vector, to_tsquery('simple', %s))", [expression])
    match = RawSQL(f"{table}.search_vector @@ to_tsquery('simple', %s)", [expression],
                   output_field=models.BooleanField())
    return queryset.filter(match).annotate(_search_rank=rank).order_by("-_search_rank", "-pk")


def _sqlite_index_sql(table: str) -> list[str]:
    fts = f"{table}_fts"
    insert = f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text);"
    delete = f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text);"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(search_text, content='{table}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF search_text ON {table} BEGIN {delete} {insert} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def _postgres_index_sql(table: str) -> list[str]:
    # A stored vector: ranking reads it instead of parsing every matching row's text again.
    return [
        f"DROP INDEX IF EXISTS {table}_search_gin",
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS "
        "(to_tsvector('simple'::regconfig, COALESCE(search_text, ''))) STORED",
        f"CREATE INDEX IF NOT EXISTS {table}_search_vector_gin ON {table} USING gin (search_vector)",
    ]


def create_full_text_index(table: str) -> migrations.RunPython:
    """A migration operation building the index the running database supports.

    On SQLite, Django rebuilds a table to alter it (adding a foreign key, say), and dropping the old table
    drops its triggers: every migration that alters a searchable table must end with this operation
    again (it is idempotent and rebuilds the index). tests/esap/test_search.py checks the triggers."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        statements = {"sqlite": _sqlite_index_sql, "postgresql": _postgres_index_sql}[vendor](table)
        for statement in statements:
            schema_editor.execute(statement)

    return migrations.RunPython(forwards, migrations.RunPython.noop)
