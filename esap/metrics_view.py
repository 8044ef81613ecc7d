"""GET /metrics: esap.metrics in Prometheus's text exposition format, version 0.0.4.

Who may read it: with ESAP_METRICS_TOKEN set, a request sending `Authorization: Bearer <that token>`
(any other gets a 401), whatever Host it names and over plain HTTP, like the health probes (esap.health
answers it before the host check and the HTTPS redirect); without a token, logged-in staff only (a 403
for everyone else), through the usual host check and redirect. Nothing is readable by default."""
import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from esap.metrics import HEALTH_STATES, PortalMetrics, portal_metrics

PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PortalCollector:
    """Reads the database at each scrape: no metric object lives between scrapes, so every web process
    answers alike and none needs prometheus_client's multiprocess mode."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from metric_families(portal_metrics())


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(PortalCollector())


def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)  # first: whoever may not read it learns nothing, whatever the method
    if refusal is not None:
        return refusal
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = settings.ESAP_METRICS_TOKEN
    if token:
        if bearer_token_matches(request, token):
            return None
        refused = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        refused["WWW-Authenticate"] = 'Bearer realm="esap metrics"'
        return refused
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return None
    return HttpResponse("Staff only (or set ESAP_METRICS_TOKEN for a scraper).\n", status=403,
                        content_type="text/plain")


def bearer_token_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time, as bytes: compare_digest refuses str holding non-ASCII characters.
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


def metric_families(portal: PortalMetrics) -> list[GaugeMetricFamily]:
    return [*_checkout_families(portal), *_facility_families(portal), *_catalogue_families(portal)]


def _checkout_families(portal: PortalMetrics) -> list[GaugeMetricFamily]:
    by_state = _gauge("esap_checkouts", "Launches (checkouts) in each state now.", ["state"],
                      portal.checkouts_by_state)
    in_progress = _gauge("esap_facility_checkouts_in_progress",
                         "Launches on each facility not yet ended (created, staging, spawning, uploading, "
                         "executing).", ["facility"], portal.live_checkouts_by_facility)
    waiting = _gauge("esap_checkout_oldest_waiting_seconds",
                     "Seconds the longest-waiting launch in each non-terminal state has been in it "
                     "(0: none); a large value means a stuck pipeline.", ["state"],
                     portal.oldest_waiting_seconds_by_state)
    ended = _gauge("esap_checkouts_ended_last_hour",
                   "Launches that ended in the last hour, by outcome (a launch ready then stopped counts as "
                   "ready).", ["outcome"], portal.ended_last_hour_by_outcome)
    return [by_state, in_progress, waiting, ended]


def _facility_families(portal: PortalMetrics) -> list[GaugeMetricFamily]:
    health = GaugeMetricFamily("esap_facility_health",
                               "1 for the facility's health state as of its last probe, 0 for the others.",
                               labels=["facility", "state"])
    probe_age = GaugeMetricFamily("esap_facility_probe_age_seconds",
                                  "Seconds since the facility was last probed (absent: never probed).",
                                  labels=["facility"])
    for facility in portal.facilities:
        for state in HEALTH_STATES:
            health.add_metric([facility.slug, state], 1 if facility.health == state else 0)
        if facility.probe_age_seconds is not None:
            probe_age.add_metric([facility.slug], facility.probe_age_seconds)
    return [health, probe_age]


def _catalogue_families(portal: PortalMetrics) -> list[GaugeMetricFamily]:
    return [
        GaugeMetricFamily("esap_facilities", "Facilities in the catalogue.", value=len(portal.facilities)),
        GaugeMetricFamily("esap_datasets", "Datasets in the catalogue.", value=portal.datasets),
        GaugeMetricFamily("esap_workflows", "Workflows in the catalogue (withdrawn ones left out).",
                          value=portal.workflows),
    ]


def _gauge(name: str, documentation: str, labels: list[str], values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label, value in values.items():
        family.add_metric([label], value)
    return family
