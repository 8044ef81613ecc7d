"""/metrics: what operators scrape with Prometheus. Read from the database at each scrape (any web process
answers alike), in the text exposition format 0.0.4 as Prometheus's own parser reads it, for a fixed
number of queries; readable by a scraper holding ESAP_METRICS_TOKEN from any Host over plain HTTP, else
by logged-in staff only."""
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from facilities.models import Facility
from facilities.services import facility_record_probe
from staging.checkout.states import State
from staging.models import Checkout
from tests.factories import make_dataset, make_facility, make_user, make_workflow
from tests.query_counts import few_and_many, queries_of

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-5e1f"


@pytest.fixture
def token(settings):
    settings.ESAP_METRICS_TOKEN = TOKEN


@pytest.fixture
def no_token(settings):
    settings.ESAP_METRICS_TOKEN = ""


@pytest.fixture
def production(settings):
    """The portal behind its TLS proxy at its public name, redirecting plain HTTP to HTTPS."""
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["esap.example.org"]
    settings.SECURE_PROXY_SSL_HEADER, settings.SECURE_SSL_REDIRECT = ("HTTP_X_FORWARDED_PROTO", "https"), True


def scraper(**headers) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)


def scrape() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Each metric family's samples, by their sorted labels, as Prometheus's parser reads the page."""
    response = scraper().get("/metrics")
    assert response.status_code == 200, response.status_code
    return {family.name: {tuple(sorted(sample.labels.items())): sample.value for sample in family.samples}
            for family in text_string_to_metric_families(response.content.decode())}


def launch(facility: Facility | None, state: State, *, facility_slug: str = "", **moments) -> Checkout:
    """A launch in `state`; `moments` (state_since, finished_at, launched_at) are set as given."""
    checkout = Checkout.objects.create(
        user=make_user(), state=state, facility=facility, facility_slug=facility_slug or facility.slug,
        profile_slug="small", workflow_title="Crab timing", notebook_path="crab.ipynb")
    Checkout.objects.filter(pk=checkout.pk).update(**moments)
    return checkout


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


# ---- what it reports ---------------------------------------------------------------------------------


def test_launches_are_counted_in_each_state_and_empty_states_read_zero(token):
    swan = make_facility("swan")
    for state in (State.STAGING, State.STAGING, State.READY, State.FAILED):
        launch(swan, state)

    counts = scrape()["esap_checkouts"]

    expected = {State.STAGING: 2, State.READY: 1, State.FAILED: 1}
    assert counts == {(("state", state.value),): expected.get(state, 0) for state in State}


def test_launches_in_progress_are_counted_per_facility_and_every_facility_is_listed(token):
    swan = make_facility("swan")
    make_facility("heron")
    for state in (State.CREATED, State.SPAWNING, State.EXECUTING, State.READY, State.FAILED, State.CANCELLED):
        launch(swan, state)
    launch(None, State.UPLOADING, facility_slug="deleted-since")  # its facility was deleted: kept by name

    in_progress = scrape()["esap_facility_checkouts_in_progress"]

    assert in_progress == {(("facility", "swan"),): 3, (("facility", "heron"),): 0,
                           (("facility", "deleted-since"),): 1}


def test_launches_ended_in_the_last_hour_are_counted_by_outcome(token):
    swan = make_facility("swan")
    launch(swan, State.READY, finished_at=ago(minutes=10))
    launch(swan, State.STOPPED, finished_at=ago(minutes=50), state_since=ago(minutes=5))  # was ready
    launch(swan, State.FAILED, finished_at=ago(minutes=20))
    launch(swan, State.FAILED, finished_at=ago(minutes=30))
    launch(swan, State.CANCELLED, finished_at=ago(minutes=1))
    launch(swan, State.READY, finished_at=ago(hours=2))  # too long ago
    launch(swan, State.STOPPED, finished_at=ago(hours=3), state_since=ago(minutes=5))  # ready 3 hours ago
    launch(swan, State.STAGING)

    ended = scrape()["esap_checkouts_ended_last_hour"]

    assert ended == {(("outcome", "ready"),): 2, (("outcome", "failed"),): 2, (("outcome", "cancelled"),): 1}


def test_the_longest_wait_in_each_live_state_shows_a_stuck_pipeline(token):
    swan = make_facility("swan")
    launch(swan, State.SPAWNING, state_since=ago(minutes=40))
    launch(swan, State.SPAWNING, state_since=ago(minutes=5))
    launch(swan, State.CREATED, state_since=None, launched_at=ago(minutes=3))  # not yet moved: since launched
    launch(swan, State.READY, state_since=ago(days=3))  # ended: not waiting

    waiting = scrape()["esap_checkout_oldest_waiting_seconds"]

    assert waiting[(("state", "spawning"),)] == pytest.approx(40 * 60, abs=60)
    assert waiting[(("state", "created"),)] == pytest.approx(3 * 60, abs=60)
    assert {labels[0][1] for labels, value in waiting.items() if value == 0} == {"staging", "uploading",
                                                                              "executing"}


def test_each_facility_shows_its_health_one_of_three_and_how_long_ago_it_was_probed(token):
    swan, heron = make_facility("swan"), make_facility("heron")
    make_facility("owl")
    facility_record_probe(facility=swan, healthy=True)
    facility_record_probe(facility=heron, healthy=False, message="connection refused")
    Facility.objects.filter(pk=swan.pk).update(probed_at=ago(seconds=90))

    families = scrape()

    health = families["esap_facility_health"]
    assert {labels for labels, value in health.items() if value == 1} == {
        (("facility", "swan"), ("state", "up")), (("facility", "heron"), ("state", "down")),
        (("facility", "owl"), ("state", "unknown"))}
    assert len(health) == 9 and set(health.values()) == {0, 1}
    probe_age = families["esap_facility_probe_age_seconds"]
    assert probe_age[(("facility", "swan"),)] == pytest.approx(90, abs=30)
    assert probe_age[(("facility", "heron"),)] == pytest.approx(0, abs=30)
    assert (("facility", "owl"),) not in probe_age  # never probed


def test_the_catalogue_sizes_are_reported(token):
    make_facility("swan")
    make_dataset("a.csv"), make_dataset("b.csv"), make_dataset("c.csv")
    make_workflow()
    withdrawn = make_workflow()
    withdrawn.withdrawn_at = timezone.now()
    withdrawn.save()

    families = scrape()

    assert (families["esap_facilities"], families["esap_datasets"], families["esap_workflows"]) == (
        {(): 1}, {(): 3}, {(): 1})


# ---- the format --------------------------------------------------------------------------------------


def test_the_page_is_the_0_0_4_text_format_with_help_and_type_for_every_metric(token):
    make_facility("swan")

    response = scraper().get("/metrics")
    text = response.content.decode()

    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    families = list(text_string_to_metric_families(text))
    assert len(families) == 9
    for family in families:
        assert family.name.startswith("esap_") and family.type == "gauge", family.name
        assert f"# HELP {family.name} " in text and f"# TYPE {family.name} gauge\n" in text


def test_a_label_value_is_escaped_as_the_format_says(token):
    odd = 'say "hi"\\ and\nbye'
    launch(None, State.STAGING, facility_slug=odd)

    response = scraper().get("/metrics")
    in_progress = scrape()["esap_facility_checkouts_in_progress"]

    assert 'facility="say \\"hi\\"\\\\ and\\nbye"' in response.content.decode()
    assert in_progress == {(("facility", odd),): 1}


# ---- who may read it ---------------------------------------------------------------------------------


def test_with_a_token_set_the_scraper_holding_it_reads_the_metrics(token):
    assert scraper().get("/metrics").status_code == 200
    assert Client(HTTP_AUTHORIZATION=f"bearer {TOKEN}").get("/metrics").status_code == 200  # scheme: any case


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
                                           "Bearer ", "Bearer sćrape-token"])
def test_with_a_token_set_any_other_request_is_a_401(token, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = Client(**headers).get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"esap_" not in response.content


def test_with_a_token_set_staff_need_it_too(token):
    client = Client()
    client.force_login(make_user(staff=True))

    assert client.get("/metrics").status_code == 401


def test_without_a_token_logged_in_staff_read_the_metrics(no_token):
    client = Client()
    client.force_login(make_user(staff=True))

    response = client.get("/metrics")

    assert response.status_code == 200 and b"esap_checkouts" in response.content


@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_without_a_token_everyone_else_is_refused(no_token, who):
    client = Client(HTTP_AUTHORIZATION="Bearer ")  # an empty token set matches no empty bearer
    if who == "user":
        client.force_login(make_user())

    response = client.get("/metrics")

    assert response.status_code == 403 and b"esap_" not in response.content
    assert client.post("/metrics").status_code == 403  # refused before the method is looked at


def test_only_get_and_head_are_answered(token):
    assert scraper().head("/metrics").status_code == 200
    assert scraper().post("/metrics").status_code == 405


# ---- any Host, plain HTTP: only with the token --------------------------------------------------------


def test_a_scraper_naming_the_pod_address_over_plain_http_is_answered(token, production):
    pod = {"HTTP_HOST": "10.1.2.3:8000"}

    assert scraper(**pod).get("/metrics").status_code == 200
    assert Client(**pod).get("/metrics").status_code == 401  # answered, and still refused without the token


def test_without_a_token_the_host_check_and_the_https_redirect_still_hold(no_token, production):
    assert Client(HTTP_HOST="10.1.2.3:8000").get("/metrics").status_code == 400
    assert Client(HTTP_HOST="esap.example.org").get("/metrics").status_code == 301


# ---- what a scrape costs -----------------------------------------------------------------------------


def test_a_scrape_costs_the_same_few_queries_for_3_launches_as_for_30(token):
    facilities = [make_facility(f"site-{index}") for index in range(3)]
    states = list(State)

    def add_launches(count: int) -> None:
        for index in range(count):
            launch(facilities[index % 3], states[index % len(states)], finished_at=ago(minutes=index),
                   state_since=ago(minutes=index))

    few, many = few_and_many(add_launches, lambda: queries_of(scraper(), "/metrics"))

    assert few == many <= 6


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
def test_no_scrape_query_reads_every_launch_row(token):
    """Launch rows are kept for good: each query reads the (state, finished_at) index, counting from the
    index alone or reading the rows of the states it names."""
    make_facility("swan")
    with CaptureQueriesContext(connection) as queries:
        scraper().get("/metrics")
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            if "staging_checkout" in query["sql"]:
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                plans.append(" ".join(row[-1] for row in cursor.fetchall()))

    assert len(plans) == 3
    assert all("INDEX checkout_state_finished" in plan for plan in plans), plans
