"""Catalogue search is a full-text index (FTS5 here), not a scan, and no query text can break it."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from esap.search import CappedCountPaginator, refresh_planner_statistics, relevance
from esap.seeding import seed_datasets
from staging.selectors import dataset_list
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def titles(queryset) -> list[str]:
    return [dataset.title for dataset in queryset]


def test_every_word_must_match_whole():
    make_dataset(title="Crab pulsar timing", description="radio light curve")
    make_dataset(title="Crab nebula image")
    make_dataset(title="Vela pulsar timing")

    assert sorted(titles(dataset_list(query="crab"))) == ["Crab nebula image", "Crab pulsar timing"]
    assert titles(dataset_list(query="cra pulsar")) == []
    assert titles(dataset_list(query="radio")) == ["Crab pulsar timing"]


def test_the_last_word_completes_as_typed_only_when_whole_words_find_nothing():
    make_dataset(title="Crab pulsar timing")
    make_dataset(title="Crab pulsars survey")

    assert titles(dataset_list(query="crab puls")) == ["Crab pulsars survey", "Crab pulsar timing"]
    assert titles(dataset_list(query="crab pulsar")) == ["Crab pulsar timing"]
    assert titles(dataset_list(query="puls crab")) == []


def test_better_matches_come_first():
    make_dataset(title="Galaxy survey", description="galaxy galaxy galaxy clusters")
    make_dataset(title="Stars", description="a single galaxy mention among many other words here")

    assert titles(dataset_list(query="galaxy"))[0] == "Galaxy survey"


def test_a_word_in_the_title_counts_more_than_one_in_a_shorter_description():
    make_dataset("a", title="Notes", description="crab")
    make_dataset("b", title="Crab nebula image", description="taken on a long night of observations")

    assert titles(dataset_list(query="crab")) == ["Crab nebula image", "Notes"]


def test_index_follows_edits_and_deletions():
    dataset = make_dataset(title="Old title")
    dataset.title = "Renamed spectrum"
    dataset.save()

    assert titles(dataset_list(query="old")) == []
    assert titles(dataset_list(query="renamed")) == ["Renamed spectrum"]
    dataset.delete()
    assert titles(dataset_list(query="renamed")) == []


def test_index_follows_a_source_that_renames_a_dataset_it_lists_again():
    make_dataset("lake:run-1", title="Alpha crab")
    make_dataset("lake:run-1", title="Beta vela")  # the same identifier, harvested again

    assert titles(dataset_list(query="vela")) == ["Beta vela"]
    assert titles(dataset_list(query="crab")) == []


def test_diacritics_and_unicode_words_match():  # on both engines: the indexed text is folded
    make_dataset(title="Données de l'Observatoire de Paris-Meudon")

    assert titles(dataset_list(query="donnees")) == ["Données de l'Observatoire de Paris-Meudon"]
    assert titles(dataset_list(query="OBSERVATOIRE")) == ["Données de l'Observatoire de Paris-Meudon"]


@pytest.mark.parametrize("hostile", [
    '"', "'", "crab OR", "NEAR(a b)", "title:crab", "a*", "-crab", "(", ")", "^", '"; DROP TABLE x; --',
    "' OR 1=1 --", "\\", "%", "_", "crab AND NOT", "{a b}", "💫",
])
def test_query_syntax_characters_are_plain_text(hostile):
    make_dataset(title="Crab pulsar")

    result = list(dataset_list(query=hostile))

    assert all(dataset.title == "Crab pulsar" for dataset in result)


def test_query_without_words_finds_nothing():
    make_dataset(title="Crab pulsar")

    assert titles(dataset_list(query="!!! ---")) == []


def test_unicode_words_match_case_insensitively():
    make_dataset(title="Überblick der Sterne 漢字")

    assert titles(dataset_list(query="überblick")) == ["Überblick der Sterne 漢字"]
    assert titles(dataset_list(query="STERNE")) == ["Überblick der Sterne 漢字"]


def test_search_uses_the_index_not_a_like_scan():
    make_dataset(title="Crab pulsar")

    with CaptureQueriesContext(connection) as queries:
        assert len(list(dataset_list(query="crab"))) == 1

    statements = [query["sql"] for query in queries.captured_queries]
    assert not any(" LIKE " in sql.upper() for sql in statements)
    if connection.vendor == "sqlite":
        ranked = next(sql for sql in statements if " MATCH " in sql)
        assert "VIRTUAL TABLE INDEX" in query_plan("EXPLAIN QUERY PLAN " + ranked)
    else:
        # With a handful of rows any plan is cheap; forbid the scans to see that the index can serve it.
        searched = next(sql for sql in statements if "@@" in sql)
        plan = query_plan("EXPLAIN " + searched, "SET enable_seqscan = off; SET enable_indexscan = off")
        assert "staging_dataset_search_vector_gin" in plan


def test_a_broad_query_ranks_the_newest_window_then_pages_older_matches_newest_first(monkeypatch):
    monkeypatch.setattr("esap.search.RANK_WINDOW", 3)
    for index in range(7):
        make_dataset(f"f{index}", title=f"pulsar {'pulsar pulsar' if index == 4 else ''} {index}")

    results = dataset_list(query="pulsar")

    assert results.count() == 7
    everything = [d.identifier for d in results]
    assert everything[0] == "f4"  # best match within the newest three: f6, f5, f4
    assert sorted(everything[:3]) == ["f4", "f5", "f6"] and everything[3:] == ["f3", "f2", "f1", "f0"]
    assert [d.identifier for d in results[2:5]] == everything[2:5]
    assert [d.identifier for d in results[4:6]] == everything[4:6] == ["f2", "f1"]  # a page past the window


def test_one_read_of_the_index_serves_the_count_the_ranking_and_the_first_page():
    for index in range(30):
        make_dataset(f"d{index}", title=f"pulsar {index}")

    with CaptureQueriesContext(connection) as queries:
        paginator = CappedCountPaginator(dataset_list(query="pulsar"), 20)
        page = list(paginator.page(1))

    assert (paginator.count, len(page)) == (30, 20)
    index_reads = [query["sql"] for query in queries.captured_queries if " MATCH " in query["sql"] or "@@" in query["sql"]]
    assert len(index_reads) == 1


def test_relevance_counts_words_as_the_index_sees_them():
    scores = relevance(["Données données", "donnees", "autre texte donnees plus long encore"], ["DONNEES"])

    assert scores[0] > scores[1] > scores[2] > 0
    assert relevance(["pulsars pulsar"], ["puls"], prefix=True)[0] > relevance(["pulsars"], ["puls"], prefix=True)[0]
    assert relevance(["nothing here"], ["pulsar"]) == [0.0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's autovacuum keeps its statistics")
def test_a_filtered_search_reads_its_page_by_id_once_the_planner_has_statistics():
    seed_datasets(3000)  # one source ("synthetic") for all: the (source, identifier) index selects nothing
    refresh_planner_statistics()

    with CaptureQueriesContext(connection) as queries:
        assert len(list(CappedCountPaginator(dataset_list(query="lofar", source="synthetic"), 20).page(1))) == 20

    page_read = queries.captured_queries[-1]["sql"]
    assert "INTEGER PRIMARY KEY" in query_plan("EXPLAIN QUERY PLAN " + page_read)


def test_housekeeping_refreshes_the_planner_statistics():
    from django.conf import settings

    from esap.tasks import planner_statistics_refresh

    make_dataset(title="Crab pulsar")
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "esap.tasks.planner_statistics_refresh" in scheduled
    planner_statistics_refresh()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'staging_dataset'")
            assert cursor.fetchone()[0] > 0


def query_plan(explain: str, setup: str = "") -> str:
    """The plan of the captured (already interpolated) query."""
    with connection.cursor() as cursor:
        if setup:
            cursor.execute(setup)
        cursor.execute(explain.replace("%", "%%"))
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="triggers keep the SQLite FTS5 index current")
@pytest.mark.parametrize("table", ["facilities_facility", "workflows_workflow", "staging_dataset"])
def test_every_searchable_table_still_has_its_index_triggers_after_all_migrations(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        triggers = {row[0] for row in cursor.fetchall()}

    assert triggers == {f"{table}_fts_ai", f"{table}_fts_ad", f"{table}_fts_au"}


def test_workflows_and_facilities_are_found_too():
    from facilities.selectors import facility_list
    from tests.factories import make_facility, make_workflow
    from workflows.selectors import workflow_list

    make_workflow()
    make_facility("swan", name="SWAN", keywords="cern")

    assert [w.title for w in workflow_list(query="peek")] == ["Peek at files"]
    assert [f.slug for f in facility_list(query="cern")] == ["swan"]


@pytest.mark.parametrize("query", ["pulsar", ""])
def test_counts_stop_at_the_cap_and_say_so(settings, client, query):
    settings.ESAP_SEARCH_COUNT_CAP = 5
    for number in range(8):
        make_dataset(title=f"Pulsar timing {number}")

    capped = client.get("/api/datasets/", {"q": query, "page_size": 2}).json()
    assert (capped["count"], capped["count_is_exact"]) == (5, False)
    assert len(capped["results"]) == 2 and capped["next"]
    beyond = client.get("/api/datasets/", {"q": query, "page_size": 2, "page": 4})
    assert beyond.status_code == 404 and beyond.json()["detail"] == (
        "There is no page 4 to show: at most the first 5 results of a search can be paged through (the last "
        "page is 3); refine the search to reach the others.")
    page = client.get("/datasets/", {"q": query}).content.decode()
    assert "5+ results (refine the search to see the rest)" in page


def test_counts_under_the_cap_are_exact(settings, client):
    settings.ESAP_SEARCH_COUNT_CAP = 5
    for number in range(5):
        make_dataset(title=f"Pulsar timing {number}")

    exact = client.get("/api/datasets/", {"q": "pulsar"}).json()
    assert (exact["count"], exact["count_is_exact"]) == (5, True)
    assert "5 results" in client.get("/datasets/", {"q": "pulsar"}).content.decode()


def test_a_users_own_launches_and_tokens_are_counted_and_paged_to_the_end_whatever_the_cap(settings):
    from rest_framework.test import APIClient

    from esap.models import ApiToken
    from staging.models import Checkout
    from tests.factories import make_user

    settings.ESAP_SEARCH_COUNT_CAP = 5
    user = make_user()
    Checkout.objects.bulk_create(Checkout(user=user, state="failed") for _ in range(7))
    for number in range(7):
        ApiToken.issue(user=user, name=f"token {number}")
    api = APIClient()
    api.force_authenticate(user)

    for endpoint in ("/api/checkouts/", "/api/tokens/"):
        last = api.get(endpoint, {"page_size": 5, "page": 2}).json()
        assert (last["count"], last["count_is_exact"], len(last["results"])) == (7, True, 2), endpoint
