"""Liveness and readiness for load balancers and orchestrators, answered before any other middleware:
probes name the pod's or machine's address as Host, which ALLOWED_HOSTS rightly refuses (a 400), and
come over plain HTTP, which an HTTPS redirect would answer with a 301."""
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from esap import metrics_view
from esap.celery import app


def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readiness(request: HttpRequest) -> JsonResponse:
    """503 unless the database and the broker answer; reports how many workers answered a ping."""
    checks = {"database": _database(), "broker": _broker()}
    ready = all(value == "ok" for value in checks.values())
    checks["workers"] = _workers() if ready else 0
    return JsonResponse({"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001  (any failure means not ready; the reason is reported)
        return f"error: {type(error).__name__}"
    return "ok"


def _broker() -> str:
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # noqa: BLE001
        return f"error: {type(error).__name__}"
    return "ok"


def _workers() -> int:
    try:
        return len(app.control.ping(timeout=1.0) or [])
    except Exception:  # noqa: BLE001  (transports without broadcast cannot count workers)
        return 0


PROBES: dict[str, Callable[[HttpRequest], JsonResponse]] = {"/healthz": liveness, "/readyz": readiness}


class HealthProbes:
    """Answers GET and HEAD of exactly /healthz and /readyz, and of /metrics when ESAP_METRICS_TOKEN is
    set; passes every other request on. First in MIDDLEWARE, so that nothing before it validates the Host
    header or redirects to HTTPS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = _probe_for(request)
        if probe is None:
            return self.get_response(request)
        return probe(request)


def _probe_for(request: HttpRequest) -> Callable[[HttpRequest], HttpResponse] | None:
    if request.method not in ("GET", "HEAD"):
        return None
    if request.path_info == metrics_view.PATH and settings.ESAP_METRICS_TOKEN:
        # Only a scrape held to the token skips the host check and the redirect; staff reading it with
        # their session (no token set) come through the usual stack, which their login needs anyway.
        return metrics_view.metrics
    return PROBES.get(request.path_info)
