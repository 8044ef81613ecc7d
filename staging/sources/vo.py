"""The Virtual Observatory data source: every pyvo call of the portal lives here (the queries themselves
are built in vo_query.py).

Searches ObsCore tables over TAP (position, radius, band, time, collection, keywords; paged with ORDER BY +
OFFSET, async above a size threshold), SIA2 services and RegTAP registries, and resolves DataLink `#this`
links (batched) into concrete access URLs. Staging at checkout, on top of this, is vo_staging.py.
ADQL is built only from validated numbers and pyvo's SQL literal escaping, never by pasting user text.
Every call to a service takes `url_policy` (the portal's SSRF guard) and sends nothing it refuses
(URLRefused instead): neither the service's own URL nor a URL the service names (a redirect, an async job,
its results). How a call failed is sorted out in vo_errors.py.
No Django here: plain values in, dataclasses out. pyvo (and astropy behind it) is imported on first use:
it costs about a second of start-up that every portal process and worker would otherwise pay.
"""
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from esap.http import PeerCheckedAdapter
from staging.sources.base import DatasetRecord, Report, StagingError, silent
from staging.sources.vo_errors import URLRefused, _translated
from staging.sources.vo_query import COLUMNS, ObsCoreQuery, VOQueryError, clean_text

KIND = "vo"
THIS = "#this"
DATALINK_STANDARD = "ivo://ivoa.net/std/datalink#links"
DATALINK_FORMAT = "content=datalink"
MAX_PAGE_SIZE = 1000
ASYNC_THRESHOLD = 500  # rows per page from which a search runs as an async (UWS) job
TIMEOUT = 30.0
MJD_FAR_FUTURE = 100_000.0  # 2132: an open upper time bound for SIA2, which wants two ends
MAX_REDIRECTS = 5
MAX_IDS_PER_REQUEST = 50  # DataLink identifiers asked about in one request
MAX_IDS_QUERY_CHARS = 6000  # their URL-encoded ID parameters, well inside the usual 8 KB request line

UrlPolicy = Callable[[str], object]  # raises if the portal may not call the URL (its SSRF guard)


@dataclass(frozen=True)
class ObsCoreRow:
    publisher_did: str
    title: str
    collection: str
    dataproduct_type: str
    target_name: str
    access_url: str
    access_format: str
    size_bytes: int | None
    ra: float | None = None
    dec: float | None = None
    t_min: float | None = None
    t_max: float | None = None
    em_min: float | None = None
    em_max: float | None = None


@dataclass(frozen=True)
class ObsCorePage:
    rows: list[ObsCoreRow]
    page: int
    page_size: int
    has_next: bool
    adql: str
    datalink_url: str = ""  # the DataLink service the TAP result names (service descriptor), if any
    job_url: str = ""  # the UWS job, when the search ran asynchronously


@dataclass(frozen=True)
class RegistryRecord:
    ivoid: str
    title: str
    access_url: str
    servicetype: str
    description: str = ""


def obscore_search(tap_url: str, query: ObsCoreQuery, *, page: int = 1, page_size: int = 50,
                   async_threshold: int = ASYNC_THRESHOLD, timeout: float = TIMEOUT,
                   url_policy: UrlPolicy | None = None) -> ObsCorePage:
    """One page of ObsCore rows, ordered by publisher DID; asks for one row more to know if a next exists."""
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
        raise VOQueryError(f"page must be 1 or more and page_size from 1 to {MAX_PAGE_SIZE}.")
    adql = query.adql(limit=page_size + 1, offset=(page - 1) * page_size)
    result, job_url = _run_tap(tap_url, adql, run_async=page_size >= async_threshold, timeout=timeout,
                               url_policy=url_policy, maxrec=page_size + 1)
    rows = [_row(record) for record in result]
    return ObsCorePage(rows[:page_size], page, page_size, len(rows) > page_size, adql, _datalink_url(result),
                       job_url)


def obscore_rows(tap_url: str, publisher_dids: list[str], *, timeout: float = TIMEOUT,
                 url_policy: UrlPolicy | None = None) -> ObsCorePage:
    """The service's current rows for these identifiers (the cart trusts the service, not the browser)."""
    from pyvo.registry.rtcons import make_sql_literal

    listed = ", ".join(make_sql_literal(clean_text("publisher_did", did)) for did in publisher_dids)
    adql = f"SELECT {', '.join(COLUMNS)} FROM ivoa.obscore WHERE obs_publisher_did IN ({listed})"
    result, _ = _run_tap(tap_url, adql, run_async=False, timeout=timeout, url_policy=url_policy,
                         maxrec=max(len(publisher_dids), 1))
    rows = [_row(record) for record in result]
    return ObsCorePage(rows, 1, max(len(rows), 1), False, adql, _datalink_url(result))


def sia2_search(sia2_url: str, query: ObsCoreQuery, *, maxrec: int = 100, timeout: float = TIMEOUT,
                url_policy: UrlPolicy | None = None) -> ObsCorePage:
    """Images through SIA2 (its answers are ObsCore rows), one page of at most `maxrec`. Keywords are not
    part of SIA2 and are refused."""
    if query.keywords:
        raise VOQueryError("SIA2 services cannot search by keywords; use a TAP service.")
    arguments: dict[str, Any] = {"maxrec": maxrec}
    if query.radius is not None:
        arguments["pos"] = (query.ra, query.dec, query.radius)
    if query.band_min is not None or query.band_max is not None:
        arguments["band"] = (query.band_min or 0.0, query.band_max or math.inf)
    if query.time_min is not None or query.time_max is not None:
        from astropy.time import Time

        low, high = query.time_min or 0.0, query.time_max or MJD_FAR_FUTURE
        arguments["time"] = (Time(low, format="mjd"), Time(high, format="mjd"))
    if query.collection:
        arguments["collection"] = query.collection
    return _sia2(sia2_url, arguments, timeout, url_policy)


def sia2_rows(sia2_url: str, publisher_dids: list[str], *, timeout: float = TIMEOUT,
              url_policy: UrlPolicy | None = None) -> ObsCorePage:
    """The SIA2 service's current rows for these identifiers (SIA2's ID parameter)."""
    ids = [clean_text("publisher_did", did) for did in publisher_dids]
    return _sia2(sia2_url, {"publisher_did": ids, "maxrec": max(len(ids), 1)}, timeout, url_policy)


def _sia2(sia2_url: str, arguments: dict[str, Any], timeout: float,
          url_policy: UrlPolicy | None) -> ObsCorePage:
    import pyvo

    session = http_session(timeout, url_policy)
    with _translated(sia2_url, session):
        service = pyvo.dal.SIA2Service(sia2_url, session=session, check_baseurl=False)
        result = service.search(**arguments)
        rows = [_row(record) for record in result]
        return ObsCorePage(rows, 1, max(len(rows), 1), False, adql="", datalink_url=_datalink_url(result))


def registry_search(regtap_url: str, *, keywords: str = "", servicetype: str = "tap", maxrec: int = 100,
                    timeout: float = TIMEOUT, url_policy: UrlPolicy | None = None) -> list[RegistryRecord]:
    """TAP or SIA2 services a RegTAP registry knows, by keywords. pyvo builds the RegTAP query; it runs
    against the registry given here, not pyvo's process-wide default."""
    import pyvo
    from pyvo.registry import regtap

    if servicetype not in ("tap", "sia2"):
        raise VOQueryError("servicetype must be 'tap' or 'sia2'.")
    constraints: list[Any] = [pyvo.registry.Servicetype(servicetype)]
    if words := clean_text("keywords", keywords).split():
        constraints.append(pyvo.registry.Freetext(*words))
    session = http_session(timeout, url_policy)
    with _translated(regtap_url, session):
        service = pyvo.dal.TAPService(regtap_url, session=session)
        adql = regtap.get_RegTAP_query(*constraints, service=service)
        found = regtap.RegistryQuery(regtap_url, adql, maxrec=maxrec, session=session).execute()
        return [_registry_record(resource, servicetype) for resource in found]


def resolve_this(datalink_url: str, ids: list[str], *, timeout: float = TIMEOUT,
                 url_policy: UrlPolicy | None = None, report: Report = silent) -> dict[str, list[str]]:
    """The `#this` access URLs of each identifier, asked for in batches (see _batch); the part of a batch a
    service leaves unanswered is asked again (DaCHS's ObsCore DataLink answers one per request), and
    a batch of which it answers nothing fails. Every round thus settles one identifier at least, so there
    are at most as many rounds as identifiers; `report` is called after each (and may raise to stop).
    An identifier without a `#this` link (an error row, or no row at all) raises StagingError; a request or
    redirect `url_policy` refuses raises URLRefused before it is sent."""
    found: dict[str, list[str]] = {identifier: [] for identifier in ids}
    errors: dict[str, str] = {}
    pending = list(found)
    session = http_session(timeout, url_policy)
    for _ in range(len(found)):
        if not pending:
            break
        batch = _batch(pending)
        answered = _datalink_batch(datalink_url, batch, found, errors, session)
        if not answered:
            errors.update({identifier: f"the DataLink service {datalink_url} did not answer about it"
                           for identifier in batch})
        settled = answered or set(batch)
        pending = [identifier for identifier in pending if identifier not in settled]
        report(f"DataLink: {len(found) - len(pending)} of {len(found)} identifier(s) answered by "
               f"{datalink_url}.", datalink_url=datalink_url)
    for identifier, urls in found.items():
        if not urls:
            raise StagingError(identifier, errors.get(identifier) or
                               f"the DataLink service {datalink_url} lists no {THIS} link for it")
    return found


def _batch(pending: list[str]) -> list[str]:
    """The first pending identifiers that fit one GET: at most MAX_IDS_PER_REQUEST, and their encoded
    ID parameters within MAX_IDS_QUERY_CHARS (a request line over the server's limit, often 8 KB, is
    refused as a whole); an identifier longer than that goes alone."""
    batch: list[str] = []
    size = 0
    for identifier in pending[:MAX_IDS_PER_REQUEST]:
        size += len(urlencode({"ID": identifier})) + 1
        if batch and size > MAX_IDS_QUERY_CHARS:
            break
        batch.append(identifier)
    return batch


def _datalink_batch(datalink_url: str, batch: list[str], found: dict[str, list[str]], errors: dict[str, str],
                    session: requests.Session) -> set[str]:
    """One DataLink request; fills `found` and `errors` for the identifiers of `batch` and returns those
    the answer covered (rows about any other identifier are ignored)."""
    import pyvo

    asked, answered = set(batch), set[str]()
    with _translated(datalink_url, session):
        links = pyvo.dal.adhoc.DatalinkQuery(datalink_url, id=batch, session=session).execute()
        for link in links:
            identifier = str(link["ID"])
            if identifier not in asked:
                continue
            answered.add(identifier)
            if link["error_message"]:
                errors[identifier] = str(link["error_message"])
            elif link["semantics"] == THIS and link["access_url"]:
                found[identifier].append(str(link["access_url"]))
    return answered


def dataset_record(*, service_url: str, row: ObsCoreRow, datalink_url: str = "",
                   service_name: str = "") -> DatasetRecord:
    """A catalogue entry that lets a launch be reproduced: the service and the row's identifier (the query
    that found it belongs to the user who ran it, and goes with their cart line)."""
    return DatasetRecord(
        source=KIND, identifier=row.publisher_did, title=row.title or row.publisher_did,
        description=f"{row.dataproduct_type or 'dataset'} from {row.collection or service_url}",
        size_bytes=row.size_bytes,
        metadata={"service_url": service_url, "service_name": service_name, "publisher_did": row.publisher_did, "access_url": row.access_url,
                  "access_format": row.access_format, "datalink_url": datalink_url, "row": asdict(row),
                  "keywords": [w for w in (row.collection, row.target_name, row.dataproduct_type) if w]},
    )


def _run_tap(tap_url: str, adql: str, *, run_async: bool, timeout: float, maxrec: int | None = None,
             url_policy: UrlPolicy | None = None) -> tuple[Any, str]:
    """The result, and the URL of the UWS job that produced it ("" when run synchronously). `maxrec` is
    sent too, so a service's lower default row limit cannot cut a page short."""
    import pyvo

    session = http_session(timeout, url_policy)
    with _translated(tap_url, session):
        service = pyvo.dal.TAPService(tap_url, session=session)
        if not run_async:
            return service.run_sync(adql, maxrec=maxrec), ""
        job = service.submit_job(adql, maxrec=maxrec)
        try:
            job.run().wait(timeout=timeout)
            job.raise_if_error()
            return job.fetch_result(), job.url
        finally:
            job.delete()


def http_session(timeout: float, url_policy: UrlPolicy | None = None) -> requests.Session:
    """A session with a default timeout (pyvo sets none) that sends nothing `url_policy` refuses."""
    return _VettedSession(timeout, url_policy)


class _VettedSession(requests.Session):
    """requests sends the first request and every redirect hop through `send`: vetting there means a
    remote service cannot redirect the worker to an address the policy refuses (cloud metadata, loopback)."""

    def __init__(self, timeout: float, url_policy: UrlPolicy | None) -> None:
        super().__init__()
        self.timeout, self.url_policy = timeout, url_policy
        self.max_redirects = MAX_REDIRECTS
        self.refused: URLRefused | None = None
        self.failure: requests.RequestException | None = None  # how the last request failed, if it did
        peer_policy = getattr(url_policy, "peer", None)  # a policy that can also judge connected addresses
        if peer_policy is not None:
            adapter = PeerCheckedAdapter(self._refusing(peer_policy))
            self.mount("http://", adapter)
            self.mount("https://", adapter)

    def _refusing(self, peer_policy: Callable[[str], object]) -> Callable[[str], None]:
        def check(address: str) -> None:
            try:
                peer_policy(address)
            except Exception as error:  # the policy's own error type is the portal's business
                self.refused = URLRefused(f"a connection reached {address}: {error}")
                raise self.refused from error
        return check

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if self.url_policy is not None:
            try:
                self.url_policy(request.url or "")
            except Exception as error:  # the policy's own error type is the portal's business
                self.refused = URLRefused(str(error))
                raise self.refused from error
        self.failure = None
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as error:
            self.failure = error
            raise
        if response.status_code >= 400:
            try:
                response.raise_for_status()
            except requests.HTTPError as error:
                self.failure = error
        return response


def _datalink_url(result: Any) -> str:
    for resource in result.votable.resources:
        if resource.type != "meta" or resource.utype != "adhoc:service":
            continue
        params = {param.name: param.value for param in resource.params}
        if str(params.get("standardID", "")).lower().startswith(DATALINK_STANDARD):
            return _plain(params.get("accessURL")) or ""
    return ""


def _row(record: Any) -> ObsCoreRow:
    def get(name: str) -> Any:
        return _plain(record[name]) if name in record else None

    size = get("access_estsize")
    return ObsCoreRow(
        publisher_did=get("obs_publisher_did") or "", title=get("obs_title") or "",
        collection=get("obs_collection") or "", dataproduct_type=get("dataproduct_type") or "",
        target_name=get("target_name") or "", access_url=get("access_url") or "",
        access_format=get("access_format") or "", size_bytes=int(size * 1024) if size is not None else None,
        ra=get("s_ra"), dec=get("s_dec"), t_min=get("t_min"), t_max=get("t_max"),
        em_min=get("em_min"), em_max=get("em_max"),
    )


def _registry_record(resource: Any, servicetype: str) -> RegistryRecord:
    try:
        url = resource.get_interface(service_type=servicetype).access_url
    except ValueError:
        url = ""
    return RegistryRecord(ivoid=resource.ivoid, title=resource.res_title or resource.ivoid,
                          access_url=url, servicetype=servicetype, description=resource.res_description or "")


def _plain(value: Any) -> Any:
    """numpy scalars, masked values and bytes as JSON-ready Python values; text without NUL characters
    (a binary VOTable's char cells may hold them, and PostgreSQL refuses them in text and JSON)."""
    import numpy

    if value is None or numpy.ma.is_masked(value):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

