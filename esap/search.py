"""Full-text search over catalogue tables, behind one function.

A searchable model keeps a `search_text` column (its title, description, keywords, identifiers), kept
current by `Searchable.save()` and the services. The index is the database's own: an external-content
FTS5 table kept in sync by triggers on SQLite, a GIN index over `to_tsvector` on PostgreSQL. On SQLite
the FTS5 table is reached through an unmanaged "search entry" model joined on rowid, so the ranked
search stays an ordinary, lazily paginated queryset.
"""
import re
from typing import Any

from django.db import connection, migrations, models
from django.db.models import Lookup, QuerySet

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
    """Every term quoted (so no FTS5 syntax reaches the engine) and prefix-matched, all required."""
    return " ".join('"' + term.replace('"', '""') + '"*' for term in terms)


def full_text_search(queryset: QuerySet, query: str, *, entry: str = "search_entry") -> QuerySet:
    """Rows of `queryset` matching every word of `query`, best first; none if it has no words."""
    terms = search_terms(query)
    if not terms:
        return queryset.none()
    if connection.vendor == "postgresql":
        return _postgres_search(queryset, tsquery_expression(terms))
    return queryset.filter(**{f"{entry}__document__match": fts5_expression(terms)}).order_by(
        f"{entry}__rank", "-pk"
    )


def tsquery_expression(terms: list[str]) -> str:
    """`a:* & b:*`: the same all-words, prefix semantics as on SQLite. Terms are \\w+ words, so no
    tsquery operator can come from user text; quoting keeps even digits-and-letters words literal."""
    return " & ".join("'" + term.replace("'", "''").replace("\\", "") + "':*" for term in terms)


def _postgres_search(queryset: QuerySet, expression: str) -> QuerySet:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    vector = SearchVector("search_text", config="simple")
    tsquery = SearchQuery(expression, config="simple", search_type="raw")
    return (
        queryset.annotate(_search_vector=vector)
        .filter(_search_vector=tsquery)
        .annotate(_search_rank=SearchRank(vector, tsquery))
        .order_by("-_search_rank", "-pk")
    )


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
    return [
        f"CREATE INDEX IF NOT EXISTS {table}_search_gin ON {table} "
        "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, '')))"
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
