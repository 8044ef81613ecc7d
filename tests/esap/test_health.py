"""Health endpoints for load balancers: alive, and ready only when the database and broker answer."""
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def test_liveness_answers_without_touching_anything():
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_readiness_checks_database_broker_and_counts_workers(celery_worker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the web process need not run where its worker does

    response = Client().get("/readyz")

    body = response.json()
    assert response.status_code == 200, body
    assert (body["database"], body["broker"], body["workers"]) == ("ok", "ok", 1)
    assert not (tmp_path / "control").exists()


def test_readiness_is_503_with_the_reason_when_the_broker_is_down(settings):
    from esap.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        response = Client().get("/readyz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["broker"].startswith("error:") and response.json()["database"] == "ok"
