"""Reading settings from the environment: typed helpers and a small database URL parser."""
import json
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

# SECRET_KEY when ESAP_SECRET_KEY is unset: public, so fit for development only (see esap.checks).
DEVELOPMENT_SECRET_KEY = "esap-insecure-development-key-change-me-in-production"


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    """One of `choices`, whatever the case it was written in; anything else stops the start with a message
    naming the variable."""
    raw = os.environ.get(name, "").strip() or default
    by_case = {choice.casefold(): choice for choice in choices}
    if raw.casefold() not in by_case:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected one of {', '.join(by_case.values())}")
    return by_case[raw.casefold()]


def database_from_url(url: str, *, test_name: str = "") -> dict[str, Any]:
    """`sqlite:////abs/path.sqlite3` or `postgresql://user:pass@host:port/name?param=value&...`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return _sqlite(parsed.path, test_name)
    if parsed.scheme in {"postgres", "postgresql"}:
        return _postgresql(parsed, test_name)
    raise ValueError(f"Unsupported database URL scheme {parsed.scheme!r}")


def _sqlite(path: str, test_name: str) -> dict[str, Any]:
    # WAL + IMMEDIATE transactions let the web process and the Celery worker write side by side.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "TEST": {"NAME": test_name or None},
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def _postgresql(parsed: Any, test_name: str) -> dict[str, Any]:
    # The query's parameters are libpq's (sslmode, sslrootcert, connect_timeout...), as in libpq's own
    # URIs; host= and port= there take the place of the address (host=/var/run/postgresql: a Unix socket).
    options = dict(parse_qsl(parsed.query))
    host, port = options.pop("host", parsed.hostname or ""), options.pop("port", str(parsed.port or ""))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parsed.path.lstrip("/"),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": port,
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "TEST": {"NAME": test_name or None},
    }


def oidc_providers(raw: str, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """allauth `APPS` entries from ESAP_OIDC_PROVIDERS, a JSON list of
    {"id", "name", "server_url", "client_id", "secret"?, "scope"?, "groups_claim"?}. A provider's client
    secret may instead come from ESAP_OIDC_SECRET_<ID> (upper case, '-' as '_'), keeping it out of files."""
    environ = os.environ if environ is None else environ
    entries = json.loads(raw) if raw.strip() else []
    if not isinstance(entries, list):
        raise ValueError("ESAP_OIDC_PROVIDERS must be a JSON list")
    apps = []
    for entry in entries:
        missing = {"id", "server_url", "client_id"} - set(entry)
        if missing:
            raise ValueError(f"ESAP_OIDC_PROVIDERS entry lacks {sorted(missing)}")
        secret_name = "ESAP_OIDC_SECRET_" + entry["id"].upper().replace("-", "_")
        apps.append({
            "provider_id": entry["id"],
            "name": entry.get("name") or entry["id"],
            "client_id": entry["client_id"],
            "secret": environ.get(secret_name) or entry.get("secret", ""),
            "settings": {
                "server_url": entry["server_url"],
                "token_auth_method": entry.get("token_auth_method", "client_secret_basic"),
                "groups_claim": entry.get("groups_claim", "groups"),
                **({"scope": entry["scope"]} if entry.get("scope") else {}),
            },
        })
    return apps
