"""Health endpoints for load balancers: alive, and ready only when the database and broker answer, to
probes that name the machine's address as Host and come over plain HTTP."""
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


@pytest.fixture
def production(settings):
    """The portal behind its TLS proxy at its public name, redirecting plain HTTP to HTTPS."""
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["esap.example.org"]
    settings.SECURE_PROXY_SSL_HEADER, settings.SECURE_SSL_REDIRECT = ("HTTP_X_FORWARDED_PROTO", "https"), True


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["get", "head"])
def test_an_orchestrator_probe_at_the_pod_address_over_plain_http_is_answered(production, path, method):
    response = getattr(Client(HTTP_HOST="10.1.2.3:8000"), method)(path)

    assert response.status_code == 200


def test_only_the_probes_skip_the_host_check(production):
    probe_host = Client(HTTP_HOST="10.1.2.3:8000")

    assert probe_host.get("/").status_code == 400
    assert probe_host.get("/healthz/").status_code == 400
    assert probe_host.post("/healthz").status_code == 400
    assert Client(HTTP_HOST="esap.example.org").get("/").status_code == 301  # to https, as before
