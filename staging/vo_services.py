"""Searching Virtual Observatory services from the portal and putting their datasets into the cart.

All VO traffic goes through the adapter (staging.sources.vo); this module turns its errors into the portal's
(UserError "vo.query", ServiceError "vo.unavailable") and never holds a database transaction across a call
to a VO service. Every request a search sends passes the portal's outbound-URL policy first (`vo_url_policy`):
the service's URL is the operator's, but the URLs pyvo follows from there (redirects, async job and result
URLs) are the remote service's, and searches run in the web process.
"""
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from esap.errors import ServiceError, UserError
from esap.http import check_outbound_url, check_peer_address
from staging import services
from staging.models import CartItem, Dataset, VOService
from staging.sources import vo, vo_errors
from staging.sources.base import DatasetRecord

SIA2_MAXREC = 200


@dataclass(frozen=True)
class VOSearchResult:
    service: VOService
    query: vo.ObsCoreQuery
    page: vo.ObsCorePage


class _VOURLPolicy:
    """The SSRF guard of every VO request: searches here, DataLink and downloads at checkout (apps.py).
    Called with each URL (and redirect hop) before it is requested; `peer` is called with the address each
    connection reached, before anything is sent on it (a host name may resolve differently the second time)."""

    def __call__(self, url: str) -> str:
        return check_outbound_url(url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)

    def peer(self, address: str) -> None:
        check_peer_address(address, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)


vo_url_policy = _VOURLPolicy()


def vo_service_list(*, kind: str = "") -> QuerySet[VOService]:
    services_ = VOService.objects.filter(enabled=True)
    return services_.filter(kind=kind) if kind else services_


def vo_service_get(*, slug: str) -> VOService:
    """Raises VOService.DoesNotExist for an unknown or disabled service."""
    return vo_service_list().get(slug=slug)


def vo_query_parse(*, params: dict[str, Any]) -> vo.ObsCoreQuery:
    try:
        return vo.ObsCoreQuery.from_params(params)
    except vo.VOQueryError as error:
        raise UserError("vo.query", detail=str(error)) from error


def vo_search(*, service: VOService, params: dict[str, Any], page: int = 1,
              page_size: int = 50) -> VOSearchResult:
    """One page of a TAP service's ObsCore rows, or an SIA2 service's images (one page, at most 200)."""
    query = vo_query_parse(params=params)
    with _translated(service):
        if service.kind == VOService.Kind.TAP:
            found = vo.obscore_search(service.url, query, page=page, page_size=page_size,
                                      url_policy=vo_url_policy)
        elif service.kind == VOService.Kind.SIA2:
            found = vo.sia2_search(service.url, query, maxrec=SIA2_MAXREC, url_policy=vo_url_policy)
        else:
            raise UserError("vo.not_searchable", service=service.name, kind="registry",
                            detail="search it for services instead.")
    return VOSearchResult(service, query, found)


def vo_registry_search(*, service: VOService, keywords: str, servicetype: str) -> list[vo.RegistryRecord]:
    if service.kind != VOService.Kind.REGISTRY:
        raise UserError("vo.not_searchable", service=service.name, kind=service.get_kind_display(),
                        detail="only registries can be searched for services.")
    with _translated(service):
        return vo.registry_search(service.url, keywords=keywords, servicetype=servicetype,
                                  url_policy=vo_url_policy)


def vo_cart_add(*, user, service: VOService, publisher_did: str, params: dict[str, Any]) -> CartItem:
    """Re-reads the row from the service (the browser's copy is not trusted), records the row in the
    catalogue, and adds the dataset to the user's cart with the service and query of this search."""
    if service.kind == VOService.Kind.REGISTRY:
        raise UserError("vo.not_searchable", service=service.name, kind="registry",
                        detail="datasets are added to the cart from TAP or SIA2 services.")
    query = vo_query_parse(params=params)
    reread = vo.obscore_rows if service.kind == VOService.Kind.TAP else vo.sia2_rows
    with _translated(service):
        found = reread(service.url, [publisher_did], url_policy=vo_url_policy)
    if not found.rows:
        raise UserError("vo.not_found", service=service.name, identifier=publisher_did)
    record = _fitted(vo.dataset_record(service_url=service.url, service_name=service.name, row=found.rows[0],
                                       datalink_url=found.datalink_url))
    dataset = services.dataset_upsert(record=record)
    # The search is this user's: kept with their cart line (their launch stages and cites it), as the
    # catalogue row others read names the service of whoever added it last.
    provenance = {"query": query.params(), "service_url": service.url, "service_name": service.name,
                  "datalink_url": found.datalink_url}
    return services.cart_add_dataset(user=user, dataset_id=dataset.pk, provenance=provenance)


def _fitted(record: DatasetRecord) -> DatasetRecord:
    """The record with each text cut to its catalogue column's length: a service's title (or identifier)
    can be of any length, and PostgreSQL refuses a longer one. The metadata keeps the row whole."""
    limits = {field.name: field.max_length for field in Dataset._meta.concrete_fields if field.max_length}
    return replace(record, **{name: value[:limit] for name, limit in limits.items()
                              if isinstance(value := getattr(record, name, None), str)})


class _translated:
    def __init__(self, service: VOService) -> None:
        self.service = service

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, vo.VOQueryError):
            raise UserError("vo.query", detail=str(error)) from error
        if isinstance(error, vo_errors.VOServiceError):
            raise ServiceError("vo.unavailable", service=self.service.name, reason=vo_errors.failure_reason(error),
                               detail=str(error)) from error
        if isinstance(error, vo_errors.URLRefused):
            raise ServiceError("vo.unavailable", service=self.service.name, reason=vo_errors.failure_reason(error),
                               detail=f"it (or a URL it led to) may not be called: {error}") from error
        return False
