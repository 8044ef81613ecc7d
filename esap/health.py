"""Liveness and readiness for load balancers and orchestrators."""
from django.db import connection
from django.http import HttpRequest, JsonResponse

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
