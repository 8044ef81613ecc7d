"""Liveness and readiness for load balancers and orchestrators, answered before any other middleware:
probes name the pod's or machine's address as Host, which ALLOWED_HOSTS rightly refuses (a 400), and
come over plain HTTP, which an HTTPS redirect would answer with a 301."""
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

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
    """Answers GET and HEAD of exactly /healthz and /readyz; passes every other request on. First in
    MIDDLEWARE, so that nothing before it validates the Host header or redirects to HTTPS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        return probe(request)
