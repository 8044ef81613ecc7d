"""Data lakes (Rucio instances): the portal's configuration of each, and the search that brings their
datasets into the catalogue. The Rucio calls themselves live in staging/sources/rucio.py."""
from django.conf import settings
from django.utils.crypto import salted_hmac

from esap.errors import ServiceError, UserError
from staging.models import DataLake, Dataset
from staging.services import dataset_upsert
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


def datalake_search(*, slug: str, scope: str, name: str = "*", metadata: dict[str, str] | None = None,
                    limit: int = 100) -> list[Dataset]:
    """The lake's DIDs matching scope, name pattern and metadata, upserted into the catalogue."""
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
    return [dataset_upsert(record=record) for record in records]


def register_source() -> None:
    from staging.sources.base import register

    register(rucio.RucioSource(instances=lambda slug: datalake_instance(slug=slug)))
