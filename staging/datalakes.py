"""Data lakes (Rucio instances): the portal's configuration of each, and the search that brings their
datasets into the catalogue. The Rucio calls themselves live in staging/sources/rucio.py."""
import re

from django.conf import settings
from django.utils.crypto import salted_hmac

from esap.errors import ServiceError, UserError
from staging.models import DataLake, Dataset
from staging.services import datasets_upsert
from staging.sources import rucio


def datalake_list() -> list[DataLake]:
    return list(DataLake.objects.all())


def datalake_instance(*, slug: str) -> rucio.RucioInstance:
    """Raises LookupError for an unknown slug (the adapter turns it into a StagingError)."""
    lake = DataLake.objects.filter(slug=slug).first()
    if lake is None:
        raise LookupError(slug)
    return rucio.RucioInstance(
        slug=lake.slug, server_url=lake.server_url, auth_url=lake.auth_url, account=lake.account,
        auth_type=lake.auth_type, vo=lake.vo, username=lake.username, password=str(lake.password or ""),
        token_dir=str(_token_dir(lake)), timeout=lake.timeout_seconds,
        request_retries=lake.request_retries, rule_lifetime_seconds=lake.rule_lifetime_seconds)


def _token_dir(lake: DataLake):
    """One token cache per lake and login: a token cached for the old credentials must not outlive an
    operator's change of password or account (a keyed hash, so the folder name reveals nothing)."""
    login = "\0".join([lake.server_url, lake.auth_url, lake.account, lake.username, str(lake.password or "")])
    digest = salted_hmac("rucio-token-dir", login).hexdigest()[:16]
    return settings.DATA_DIR / "rucio-tokens" / f"{lake.slug}-{digest}"


SCOPE = re.compile(r"[A-Za-z0-9.\-_]{1,25}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9.\-_*]{1,250}")
METADATA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")


def datalake_search(*, slug: str, scope: str, name: str = "*", metadata: dict[str, str] | None = None,
                    limit: int = 100) -> list[Dataset]:
    """The lake's DIDs matching scope, name pattern and metadata, upserted into the catalogue. The same
    checks for the page and the API: Rucio's own scope and name characters, and metadata keys that are
    plain names other than `name` (which would replace the name pattern)."""
    _check_search(scope, name or "*", metadata or {})
    try:
        instance = datalake_instance(slug=slug)
    except LookupError:
        raise UserError("datalake.unknown", slug=slug) from None
    try:
        records = rucio.search(instance, scope=scope, name=name or "*", metadata=metadata, limit=limit)
    except rucio.RucioOutage as error:
        raise ServiceError("datalake.unavailable", detail=str(error)) from error
    except rucio.RucioError as error:
        raise UserError("datalake.refused", detail=str(error)) from error
    return datasets_upsert(records=records)


def _check_search(scope: str, name: str, metadata: dict[str, str]) -> None:
    if not SCOPE.fullmatch(scope):
        raise UserError("datalake.bad_search", detail="a scope is 1 to 25 letters, digits, '.', '-' or '_'")
    if not NAME_PATTERN.fullmatch(name):
        raise UserError("datalake.bad_search",
                        detail="a name pattern is up to 250 letters, digits, '.', '-', '_' or '*'")
    for key, value in metadata.items():
        if not METADATA_KEY.fullmatch(key) or key in {"name", "scope"}:
            raise UserError("datalake.bad_search", detail=f"{key[:60]!r} is not a metadata key")
        if len(value) > 200:
            raise UserError("datalake.bad_search", detail=f"the value of {key!r} is over 200 characters")


def register_source() -> None:
    from staging.sources.base import register

    register(rucio.RucioSource(instances=lambda slug: datalake_instance(slug=slug)))
