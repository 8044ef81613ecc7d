"""Full-text search over catalogue tables, behind one function.

A searchable model keeps a `search_text` column: the words of its title, description, keywords and
identifiers as `index_text` writes them (case-folded, without diacritics, split at every character that
is not a letter or digit: `lightcurves/crab_pulsar.csv` holds `lightcurves crab pulsar csv`), kept
current by `Searchable.save()` and the services. Queries are split by the same `folded_words`, so both
engines index and look up the same words although their own tokenizers differ (PostgreSQL's 'simple'
parser keeps paths, host names and dotted names whole, and accents as written). The index is the
database's own: an external-content FTS5 table kept in sync by triggers on SQLite, a GIN index over a
stored `tsvector` on PostgreSQL. The index finds the newest matches; `RankedMatches` ranks a bounded
window of them and pages the rest (see there why). On SQLite a filtered search reaches the FTS5 table
through an unmanaged "search entry" model joined on rowid.
"""
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection, migrations, models
from django.db.models import F, Lookup, QuerySet
from django.db.models.expressions import OrderBy, RawSQL

MAX_TERMS = 16
# A word: letters and digits (not "_", which \w includes), as FTS5's unicode61 tokenizer reads them.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class Searchable(models.Model):
    search_text = models.TextField(blank=True, default="", editable=False)
    search_title_field = "title"  # whose words count more in the ranking (see `relevance`)

    class Meta:
        abstract = True

    def search_document(self) -> str:
        raise NotImplementedError

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = index_text(self.search_document())
        if kwargs.get("update_fields") is not None:  # as update_or_create() saves: the text must follow
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text"}
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
    return folded_words(query)[:MAX_TERMS]


def fts5_expression(terms: list[str], *, prefix: bool = False) -> str:
    """Every term quoted (so no FTS5 syntax reaches the engine) and required; the last one a prefix
    when asked."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    return " ".join(quoted) + ("*" if prefix else "")


def tsquery_expression(terms: list[str], *, prefix: bool = False) -> str:
    """`a & b` (or `a & b:*`), the same semantics as on SQLite. Terms are letters and digits, so no tsquery
    operator can come from user text; quoting keeps digits-and-letters words literal."""
    quoted = ["'" + term.replace("'", "''").replace("\\", "") + "'" for term in terms]
    return " & ".join(quoted) + (":*" if prefix else "")


def full_text_search(queryset: QuerySet, query: str, *, entry: str = "search_entry") -> "RankedMatches | QuerySet":
    """Rows of `queryset` holding every word of `query`, best first; none if it has no words.

    Words match whole; when that finds nothing, the last word also matches the beginning of a word, as
    while typing ("crab puls" finds "Crab pulsar"). Matching a prefix on every query would merge every
    doclist the prefix reaches: 3 ms per query at a million rows for a common word, whatever the page."""
    terms = search_terms(query)
    if not terms:
        return queryset.none()
    whole_words = RankedMatches(queryset, _matches(queryset, terms, prefix=False, entry=entry), terms)
    if whole_words.count_up_to(1):
        return whole_words
    return RankedMatches(queryset, _matches(queryset, terms, prefix=True, entry=entry), terms, prefix=True)


class _Matches(Protocol):
    def newest_ids(self, limit: int) -> list[int]: ...

    def count(self) -> int: ...


@dataclass(frozen=True)
class _IndexMatches:
    """Matches of a whole table, read from its index alone (FTS5 rowids, or the GIN-indexed vector)."""

    source: str  # "FROM ... WHERE <match %s>"
    id: str
    expression: str

    def newest_ids(self, limit: int) -> list[int]:
        return [row[0] for row in self._rows(f"SELECT {self.id} {self.source} ORDER BY {self.id} DESC LIMIT %s",
                                             [limit])]

    def count(self) -> int:
        return self._rows(f"SELECT count(*) {self.source}", [])[0][0]

    def _rows(self, sql: str, params: list) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.expression, *params])
            return cursor.fetchall()


@dataclass(frozen=True)
class _FilteredMatches:
    """Matches of a filtered queryset (visibility, source): the filter and the index in one query."""

    matching: QuerySet
    newest_first: OrderBy

    def newest_ids(self, limit: int) -> list[int]:
        return list(self.matching.order_by(self.newest_first).values_list("pk", flat=True)[:limit])

    def count(self) -> int:
        return self.matching.order_by().count()


def _matches(queryset: QuerySet, terms: list[str], *, prefix: bool, entry: str) -> _Matches:
    table = queryset.model._meta.db_table
    if connection.vendor == "postgresql":
        expression = tsquery_expression(terms, prefix=prefix)
        if not queryset.query.where:
            return _IndexMatches(f"FROM {table} WHERE search_vector @@ to_tsquery('simple', %s)", "id", expression)
        return _FilteredMatches(queryset.filter(RawSQL(f"{table}.search_vector @@ to_tsquery('simple', %s)",
                                                       [expression], output_field=models.BooleanField())),
                                F("pk").desc())
    expression = fts5_expression(terms, prefix=prefix)
    if not queryset.query.where:
        return _IndexMatches(f"FROM {table}_fts WHERE {table}_fts MATCH %s", "rowid", expression)
    # Ordered by the FTS5 table's own rowid (the same id), FTS5 walks its doclists newest first and stops
    # at the limit; ordered by the table's id, SQLite sorts every match (1 M rows: 2 ms against 86 ms).
    entry_rowid = queryset.model._meta.get_field(entry).related_model._meta.pk.attname
    return _FilteredMatches(queryset.filter(**{f"{entry}__document__match": expression}),
                            F(f"{entry}__{entry_rowid}").desc())


RANK_WINDOW = 200


class RankedMatches:
    """Search results, paged from the index: the newest `RANK_WINDOW` matches come first, best first
    (`relevance`); older matches follow, newest first. It slices, counts and iterates like a queryset.

    No database index here can hand out matches best first without ranking them all, and ranking every
    match of a broad query over a million rows (FTS5's bm25 reads each word's whole doclist for its
    statistics) costs more than everything else a search does. Reading the newest ids stops early, and
    ranking a bounded window in Python is the same on both engines."""

    def __init__(self, queryset: QuerySet, matches: _Matches, terms: list[str], *, prefix: bool = False) -> None:
        self.queryset, self.matches, self.terms, self.prefix = queryset, matches, terms, prefix
        self._newest: list[int] = []
        self._asked = 0
        self._window: list[int] | None = None
        self._count: int | None = None

    def newest_ids(self, limit: int) -> list[int]:
        """Up to `limit` matching ids, newest first. The first read goes as far as the capped count, so
        one read of the index serves the count, the ranked window and every page up to the cap."""
        if limit > self._asked and (self._asked == 0 or len(self._newest) == self._asked):
            read = max(limit, RANK_WINDOW, settings.ESAP_SEARCH_COUNT_CAP + 1)
            self._newest, self._asked = self.matches.newest_ids(read), read
        return self._newest[:limit]

    def count_up_to(self, limit: int) -> int:
        """min(count, limit), reading at most max(limit, the capped count) entries of the index."""
        return min(self._count, limit) if self._count is not None else len(self.newest_ids(limit))

    def count(self) -> int:
        if self._count is None:
            self.newest_ids(1)  # the one read of the index, if it has not happened yet
            self._count = len(self._newest) if len(self._newest) < self._asked else self.matches.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[0:self.count()])

    def __getitem__(self, index):
        if isinstance(index, int):
            return self[index:index + 1][0]
        start, stop = index.start or 0, index.stop if index.stop is not None else self.count()
        ranked = self._ranked_window()[start:stop] if start < RANK_WINDOW else []
        ids = ranked + self.newest_ids(stop)[max(start, RANK_WINDOW):stop]
        rows = self.queryset.in_bulk(ids)
        return [rows[pk] for pk in ids if pk in rows]

    def _ranked_window(self) -> list[int]:
        if self._window is None:
            newest = self.newest_ids(RANK_WINDOW)
            found = _titles_and_texts(self.queryset.model, newest)
            pairs = [found.get(pk, ("", "")) for pk in newest]
            scores = relevance([text for _, text in pairs], self.terms, prefix=self.prefix,
                               titles=[title for title, _ in pairs])
            self._window = [pk for _, pk in sorted(zip(scores, newest), key=lambda pair: (-pair[0], -pair[1]))]
        return self._window


def _titles_and_texts(model: type[Searchable], ids: list[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    title = model._meta.get_field(model.search_title_field).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {title}, search_text FROM {model._meta.db_table} "
                       f"WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
        return {pk: (title_text or "", text or "") for pk, title_text, text in cursor.fetchall()}


def folded_words(text: str) -> list[str]:
    """Words as the index holds them: case-folded, without diacritics, letters and digits only."""
    folded = text.casefold()
    if not folded.isascii():
        folded = "".join(char for char in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(char))
    return _WORD.findall(folded)


def index_text(document: str) -> str:
    """What a searchable row stores in `search_text` and both engines index: its words, space-separated."""
    return " ".join(folded_words(document))


def relevance(texts: list[str], terms: list[str], *, prefix: bool = False, titles: list[str] | None = None,
              title_weight: float = 2.0, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25's term-frequency part, per text: repeated words count with diminishing returns, long texts
    less, and a word in the title (also part of the text) counts `title_weight` times more, as in BM25F.
    Every text holds every term, so the inverse document frequency (a corpus-wide count) would only weigh
    the terms against each other; PostgreSQL's ts_rank does without it too."""
    wanted = [(folded_words(term) or [term.casefold()])[0] for term in terms]  # terms come folded already
    documents = [folded_words(text) for text in texts]
    title_words = [folded_words(title) for title in titles] if titles else [[] for _ in texts]
    average_length = sum(map(len, documents)) / len(documents) if documents else 1.0
    scores = []
    for words, in_title in zip(documents, title_words):
        norm = k1 * (1 - b + b * len(words) / (average_length or 1.0))
        score = 0.0
        for position, term in enumerate(wanted):
            as_prefix = prefix and position == len(wanted) - 1
            frequency = (_occurrences(words, term, as_prefix)
                         + title_weight * _occurrences(in_title, term, as_prefix))
            score += frequency * (k1 + 1) / (frequency + norm)
        scores.append(score)
    return scores


def _occurrences(words: list[str], term: str, as_prefix: bool) -> int:
    return sum(1 for word in words if word.startswith(term)) if as_prefix else words.count(term)


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


def settle_after_bulk_load(*models: type[models.Model]) -> None:
    """What an operator runs after a bulk import. On PostgreSQL, VACUUM merges the GIN index's pending
    list (fresh entries every search reads one by one: 10 k rows just inserted made a search 4× slower)
    and ANALYZE tells the planner how common each word is; inside a transaction VACUUM cannot run, and
    autovacuum does it later. On SQLite, the planner statistics of `refresh_planner_statistics`."""
    if connection.vendor == "sqlite":
        refresh_planner_statistics()
        return
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def refresh_planner_statistics() -> None:
    """How common each indexed value is, for SQLite's query planner (PostgreSQL's autovacuum keeps its
    own). SQLite never gathers them by itself, and without them it guesses that `source = 'x'` is
    selective: a filtered search read its page of 20 ids through the (source, identifier) index, all
    million rows of one source, 120 ms instead of 1 ms. Sampled (`analysis_limit`): 20 ms at 1 M rows.
    Celery beat runs it every ESAP_STATISTICS_SECONDS."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit = 1000")
        cursor.execute("ANALYZE")


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
