"""Settings read from the environment: the database URL, OpenID Connect providers, and every setting
documented."""
import json
import re
from pathlib import Path

import pytest

from esap.env import database_from_url, oidc_providers

IAM = {"id": "escape-iam", "name": "ESCAPE IAM", "server_url": "https://iam.example.org/", "client_id": "esap"}


def test_a_provider_becomes_an_allauth_app_with_its_secret_from_its_own_variable():
    [app] = oidc_providers(json.dumps([IAM]), environ={"ESAP_OIDC_SECRET_ESCAPE_IAM": "s3cret"})
    assert app["provider_id"] == "escape-iam" and app["client_id"] == "esap" and app["secret"] == "s3cret"
    assert app["settings"] == {"server_url": "https://iam.example.org/", "token_auth_method": "client_secret_basic",
                               "groups_claim": "groups"}


def test_scope_and_groups_claim_can_be_set_per_provider():
    entry = {**IAM, "scope": ["openid", "profile", "eduperson_entitlement"], "groups_claim": "eduperson_entitlement"}
    [app] = oidc_providers(json.dumps([entry]), environ={})
    assert app["settings"]["scope"] == ["openid", "profile", "eduperson_entitlement"]
    assert app["settings"]["groups_claim"] == "eduperson_entitlement"


def test_no_variable_means_local_accounts_only():
    assert oidc_providers("", environ={}) == []


@pytest.mark.parametrize("raw, reason", [
    ('{"id": "x"}', "must be a JSON list"),
    ('[{"id": "x", "client_id": "c"}]', "server_url"),
    ("[{", "Expecting"),
])
def test_a_malformed_value_stops_the_start_with_the_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        oidc_providers(raw, environ={})


def libpq_parameters(url: str) -> dict:
    """What Django's PostgreSQL backend hands psycopg (and so libpq) for this ESAP_DATABASE_URL."""
    from django.db.utils import ConnectionHandler

    return ConnectionHandler({"default": database_from_url(url)})["default"].get_connection_params()


def test_a_database_url_passes_its_query_parameters_to_libpq():
    params = libpq_parameters("postgresql://esap:p%40ss@db.example.org:5433/esap"
                              "?sslmode=verify-full&sslrootcert=/etc/esap/ca.pem&connect_timeout=5")

    assert (params["host"], params["port"], params["user"], params["password"], params["dbname"]) == (
        "db.example.org", "5433", "esap", "p@ss", "esap")
    assert (params["sslmode"], params["sslrootcert"], params["connect_timeout"]) == (
        "verify-full", "/etc/esap/ca.pem", "5")


def test_a_database_on_a_unix_socket_is_named_by_the_host_parameter():
    params = libpq_parameters("postgresql://esap@/esap?host=/var/run/postgresql")

    assert params["host"] == "/var/run/postgresql" and "port" not in params


def test_every_setting_read_from_the_environment_is_documented_in_the_readme():
    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'env\w*\(\s*"(ESAP_\w+)"', (root / "esap" / "settings.py").read_text()))
    table = (root / "README.md").read_text().split("## Settings (environment)", 1)[1]

    assert len(read) > 40
    assert sorted(name for name in read if f"`{name}`" not in table) == []


TLS_SETTINGS = ("SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
                "ACCOUNT_DEFAULT_HTTP_PROTOCOL")


def start_process(environ: dict[str, str], names: tuple[str, ...]):
    """A fresh process that sets Django up from this environment and prints these settings as JSON."""
    import os
    import subprocess
    import sys

    probe = ("import json, django; from django.conf import settings; django.setup(); print(json.dumps({name: "
             f"getattr(settings, name, None) for name in {names!r}}}))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "esap.settings", **environ}
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])


def settings_under(environ: dict[str, str], names: tuple[str, ...] = TLS_SETTINGS) -> dict:
    """The settings a fresh process reads from this environment."""
    done = start_process(environ, names)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_behind_a_tls_proxy_with_an_https_address_requests_and_cookies_are_https():
    behind = settings_under({"ESAP_BEHIND_TLS_PROXY": "true", "ESAP_PUBLIC_URL": "https://esap.example.org"})
    local = settings_under({"ESAP_BEHIND_TLS_PROXY": "false", "ESAP_PUBLIC_URL": "http://127.0.0.1:8000"})

    assert behind == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"], "SESSION_COOKIE_SECURE": True,
                      "CSRF_COOKIE_SECURE": True, "ACCOUNT_DEFAULT_HTTP_PROTOCOL": "https"}
    assert local["SECURE_PROXY_SSL_HEADER"] is None and local["SESSION_COOKIE_SECURE"] is False


def test_log_level_and_format_may_be_written_in_any_case():
    logging = settings_under({"ESAP_LOG_LEVEL": "info", "ESAP_LOG_FORMAT": "JSON"}, names=("LOGGING",))["LOGGING"]

    assert (logging["root"]["level"], logging["handlers"]["console"]["formatter"]) == ("INFO", "json")


def test_email_verification_is_read_in_any_case_as_allauth_spells_it():
    verification = settings_under({"ESAP_EMAIL_VERIFICATION": "Mandatory"}, names=("ACCOUNT_EMAIL_VERIFICATION",))

    assert verification["ACCOUNT_EMAIL_VERIFICATION"] == "mandatory"


@pytest.mark.parametrize("variable, value, expected", [
    ("ESAP_LOG_LEVEL", "verbose", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("ESAP_LOG_FORMAT", "yaml", "plain, json"),
    ("ESAP_EMAIL_VERIFICATION", "mandatroy", "none, optional, mandatory"),
])
def test_an_unknown_choice_stops_the_start_naming_the_variable(variable, value, expected):
    done = start_process({variable: value}, names=("LOGGING",))

    assert done.returncode != 0
    assert f"ImproperlyConfigured: {variable}='{value}': expected one of {expected}" in done.stderr


def test_production_harvests_over_https_only_unless_told_otherwise():
    def schemes(environ: dict[str, str]) -> list[str]:
        return settings_under(environ, names=("ESAP_GIT_SCHEMES",))["ESAP_GIT_SCHEMES"]

    assert schemes({"ESAP_DEBUG": "false"}) == ["https"]
    assert schemes({"ESAP_DEBUG": "false", "ESAP_GIT_SCHEMES": "https,ssh"}) == ["https", "ssh"]
    assert schemes({"ESAP_DEBUG": "true"}) == ["https", "http", "git"]  # the tests' local git daemon
