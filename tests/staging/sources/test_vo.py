"""The VO adapter against a real GAVO DaCHS (tests/servers/vo): ObsCore over TAP, SIA2, DataLink, RegTAP.
Faults DaCHS cannot produce come from loopback fakes named for the fault."""
import socket

import pytest
import requests

from staging.sources.base import DatasetRef, SourceUnavailable, StagingError, StagingTarget
from staging.sources.vo import (
    ObsCoreQuery, VOQueryError, dataset_record, obscore_rows, obscore_search, registry_search, resolve_this,
    sia2_rows, sia2_search,
)
from staging.sources.vo_errors import URLRefused, VOServiceError, failure_reason
from staging.sources.vo_staging import VOSource
from tests.servers.vo.fakes import (
    FakeDataLinkWithoutThisServer, FakeMalformedVOTableServer, FakeVOServer, datalink_document,
)

pytestmark = pytest.mark.vo

FIELD_A_V = "ivo://test.portal.local/~?vofix/data/field-a-v.fits"
FIELD_A_R = "ivo://test.portal.local/~?vofix/data/field-a-r.fits"
FIELD_B_V = "ivo://test.portal.local/~?vofix/data/field-b-v.fits"
ALL = sorted([FIELD_A_V, FIELD_A_R, FIELD_B_V])


def ids(page) -> list[str]:
    return [row.publisher_did for row in page.rows]


def search(vo_server, **params):
    return obscore_search(vo_server.tap_url, ObsCoreQuery.from_params(params))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- ObsCore searches ---------------------------------------------------------------------------------

def test_an_empty_query_lists_the_whole_collection_in_publisher_did_order(vo_server):
    page = search(vo_server)
    assert ids(page) == ALL and not page.has_next
    assert {row.access_format for row in page.rows} == {"image/fits"}
    assert all(row.access_url.startswith(f"{vo_server.url}/getproduct/") for row in page.rows)


def test_a_cone_finds_the_two_images_of_field_a(vo_server):
    assert ids(search(vo_server, ra=10.0, dec=20.0, radius=0.2)) == sorted([FIELD_A_V, FIELD_A_R])
    assert ids(search(vo_server, ra="150", dec="2", radius="0.05")) == [FIELD_B_V]


def test_band_time_and_collection_narrow_the_search(vo_server):
    assert ids(search(vo_server, band_min=6.1e-7)) == [FIELD_A_R]  # redder than V's 600 nm limit
    assert ids(search(vo_server, time_min=60400, time_max=60420)) == [FIELD_B_V]  # April 2024 (MJD)
    assert ids(search(vo_server, collection="esap-fixture")) == ALL
    assert ids(search(vo_server, collection="another")) == []


def test_keywords_match_title_or_target_case_insensitively(vo_server):
    assert ids(search(vo_server, keywords="field b")) == [FIELD_B_V]
    assert ids(search(vo_server, keywords="FIELD")) == ALL


def test_results_are_paged_without_a_fixed_ceiling(vo_server):
    query = ObsCoreQuery()
    first = obscore_search(vo_server.tap_url, query, page=1, page_size=2)
    second = obscore_search(vo_server.tap_url, query, page=2, page_size=2)
    assert (len(first.rows), first.has_next, len(second.rows), second.has_next) == (2, True, 1, False)
    assert ids(first) + ids(second) == ALL
    assert "ORDER BY obs_publisher_did OFFSET 2" in second.adql


def test_large_pages_run_as_async_uws_jobs(vo_server):
    page = obscore_search(vo_server.tap_url, ObsCoreQuery(), page_size=10, async_threshold=5)
    assert ids(page) == ALL and page.job_url.startswith(vo_server.url) and "/async/" in page.job_url
    assert requests.get(page.job_url, timeout=10).status_code == 404  # the job is deleted once read
    assert obscore_search(vo_server.tap_url, ObsCoreQuery(), page_size=4, async_threshold=5).job_url == ""


def test_rows_are_reread_by_identifier_with_their_datalink_service(vo_server):
    page = obscore_rows(vo_server.tap_url, [FIELD_B_V, "ivo://nowhere/none"])
    assert ids(page) == [FIELD_B_V]
    assert page.datalink_url.startswith(vo_server.url) and page.datalink_url.endswith("/dlmeta")


def test_null_cells_of_a_votable_become_none_not_zero():
    import numpy

    from staging.sources.vo import _plain

    assert [_plain(v) for v in (numpy.ma.masked, numpy.float64("nan"), numpy.int64(5), b"x", "y")] == [
        None, None, 5, "x", "y"]


# --- hostile and invalid input ------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", [
    "x' OR '1'='1",
    "field' OR obs_publisher_did LIKE '%",
    "Field; DROP TABLE ivoa.obscore --",
    "Field' -- comment",
    "/* Field */ ' UNION SELECT * FROM tap_schema.tables --",
])
def test_adql_hostile_keywords_and_collections_are_quoted_not_executed(vo_server, hostile):
    by_collection = search(vo_server, collection=hostile)
    doubled = hostile.replace("'", "''")
    assert by_collection.rows == [] and f"obs_collection = '{doubled}'" in by_collection.adql
    by_keywords = search(vo_server, keywords=hostile)
    assert by_keywords.rows == []
    for word in hostile.split():  # each word becomes one literal with its quotes doubled
        assert f"ILIKE '%{word.replace(chr(39), chr(39) * 2)}%'" in by_keywords.adql
    assert ids(search(vo_server)) == ALL  # and the table is still there


# --- faults ---------------------------------------------------------------------------------------------

def test_fault_service_down_is_a_service_error(vo_server):
    with pytest.raises(VOServiceError, match="could not be reached"):
        obscore_search(f"http://127.0.0.1:{closed_port()}/tap", ObsCoreQuery(), timeout=5)


def test_fault_malformed_votable_is_a_service_error():
    with FakeMalformedVOTableServer() as fake, pytest.raises(VOServiceError, match="malformed VOTable"):
        obscore_search(f"{fake.url}/tap", ObsCoreQuery(keywords="x"))


SEARCHES = {  # each kind of service, searched the way the portal does
    "tap": lambda url, timeout: obscore_search(url, ObsCoreQuery(), timeout=timeout),
    "sia2": lambda url, timeout: sia2_search(url, ObsCoreQuery(ra=83.6, dec=22.0, radius=0.1), timeout=timeout),
    "registry": lambda url, timeout: registry_search(url, keywords="crab", timeout=timeout),
}


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"


@pytest.mark.parametrize("kind", SEARCHES)
def test_fault_each_failure_has_a_plain_reason_and_keeps_its_technical_account(kind, silent_server):
    def failure(url: str, timeout: float = 5) -> VOServiceError:
        with pytest.raises(VOServiceError) as raised:
            SEARCHES[kind](url, timeout)
        return raised.value

    port = closed_port()
    refused, unresolvable = failure(f"http://127.0.0.1:{port}/x"), failure("http://esap-vo.invalid/x")
    silent = failure(f"{silent_server}/x", timeout=1)
    with FakeVOServer(b"Down for maintenance until 14:00\n(the archive)", "text/plain", status=503) as fake:
        maintenance = failure(f"{fake.url}/x")
    # pyvo's VOSI requests (a registry's capabilities) raise a text of their own without the cause: the
    # session's failure is read instead ("Unable to access the capabilities endpoint at:" said nothing)
    assert [failure_reason(error) for error in (refused, unresolvable, silent, maintenance)] == [
        "could not be reached: nothing answers at its address (the service is down)",
        "could not be reached: its host name could not be looked up (no network, or a wrong address)",
        "did not answer in time (it is overloaded or down)",
        "answered with an error (HTTP 503 Service Unavailable: Down for maintenance until 14:00)"]
    assert f"port={port}): Failed to establish a new connection: [Errno 111] Connection refused" in str(refused)
    assert "Failed to resolve 'esap-vo.invalid'" in str(unresolvable) and "Read timed out" in str(silent)
    assert not any("Unable to access" in str(error) for error in (refused, unresolvable, silent, maintenance))


def test_fault_a_refusal_of_the_outbound_policy_is_named_as_such():
    def public_only(url: str) -> None:
        raise ValueError(f"{url} is not a public address")

    with pytest.raises(URLRefused) as raised:
        obscore_search(f"http://127.0.0.1:{closed_port()}/tap", ObsCoreQuery(), url_policy=public_only)
    assert failure_reason(raised.value) == ("may not be called from the portal: it, or an address it sent the "
                                            "portal to, is refused by the portal's outbound-address policy")


def test_fault_query_error_returned_by_the_service_is_a_query_error_with_its_reason(vo_server):
    from staging.sources.vo import _run_tap  # the only way to send DaCHS ADQL it rejects: an unknown column

    with pytest.raises(VOQueryError, match="rejected the query.*nosuch"):
        _run_tap(vo_server.tap_url, "SELECT nosuch FROM ivoa.obscore", run_async=False, timeout=10)
    with pytest.raises(VOQueryError, match="rejected the query"):
        _run_tap(vo_server.tap_url, "SELECT nosuch FROM ivoa.obscore", run_async=True, timeout=20)


def test_fault_datalink_without_this_names_the_dataset():
    with FakeDataLinkWithoutThisServer(FIELD_A_V) as fake, pytest.raises(StagingError) as raised:
        resolve_this(f"{fake.url}/dlmeta", [FIELD_A_V])
    assert raised.value.identifier == FIELD_A_V and "#this" in raised.value.detail


# --- SIA2 -----------------------------------------------------------------------------------------------

def test_sia2_finds_images_by_position_band_and_time_and_rereads_them_by_id(vo_server):
    def sia2(**params) -> list[str]:
        return sorted(row.publisher_did for row in sia2_search(vo_server.sia2_url,
                                                               ObsCoreQuery.from_params(params)).rows)

    assert sia2(ra=10, dec=20, radius=0.2) == sorted([FIELD_A_V, FIELD_A_R])
    assert sia2(ra=150, dec=2, radius=0.05, band_min=5e-7, band_max=5.6e-7) == [FIELD_B_V]
    assert sia2(time_min=60400, time_max=60420) == [FIELD_B_V]
    again = sia2_rows(vo_server.sia2_url, [FIELD_A_R])
    assert [row.publisher_did for row in again.rows] == [FIELD_A_R] and again.datalink_url.endswith("/dlmeta")
    with pytest.raises(VOQueryError, match="cannot search by keywords"):
        sia2_search(vo_server.sia2_url, ObsCoreQuery(keywords="field"))


# --- DataLink and staging -------------------------------------------------------------------------------

def test_datalink_resolves_this_links_for_many_ids_in_one_request(vo_server):
    page = search(vo_server)
    urls = resolve_this(page.datalink_url, ids(page))
    assert sorted(urls) == ALL and all(len(found) == 1 for found in urls.values())
    first = requests.get(urls[FIELD_A_V][0], timeout=10)
    assert first.content.startswith(b"SIMPLE") and len(first.content) == 5760


def unknown_ids(count: int, length: int = 60) -> list[str]:
    """Identifiers of the fixture's authority that DaCHS answers about with a NotFoundFault row."""
    return [f"ivo://test.portal.local/~?vofix/data/none-{n:04d}-".ljust(length, "x") for n in range(count)]


def test_datalink_asks_about_hundreds_of_ids_in_batches_each_round_reported(vo_server):
    rounds: list[str] = []
    unknown = unknown_ids(300)  # in one GET: a 26 KB request line, which DaCHS drops unanswered
    with pytest.raises(StagingError, match="NotFoundFault") as raised:  # DaCHS answered about each
        resolve_this(vo_server.datalink_url, ALL + unknown,
                     report=lambda message, **data: rounds.append(message))
    assert raised.value.identifier == unknown[0]
    assert len(rounds) == 7  # 50 per request
    assert rounds[-1] == f"DataLink: 303 of 303 identifier(s) answered by {vo_server.datalink_url}."


def test_datalink_batches_of_long_ids_stay_within_the_request_line_limit(vo_server):
    unknown = unknown_ids(40, length=500)  # 40 in one GET: a 22 KB request line
    with pytest.raises(StagingError, match="NotFoundFault") as raised:
        resolve_this(vo_server.datalink_url, unknown)
    assert raised.value.identifier == unknown[0]


def test_a_cancel_noticed_at_a_datalink_round_stops_the_resolution(vo_server):
    class Cancelled(Exception):
        pass

    def report(message: str, **data) -> None:
        raise Cancelled(message)

    with pytest.raises(Cancelled, match="50 of 303"):
        resolve_this(vo_server.datalink_url, ALL + unknown_ids(300), report=report)


class FakeDataLinkAnsweringOnlyAbout(FakeVOServer):
    """A DataLink service whose every answer is about one identifier, whatever it was asked; after
    LIMIT requests its answers are empty, so that a client asking again and again ends too."""

    LIMIT = 20

    def __init__(self, identifier: str) -> None:
        self.rows = [(identifier, "http://127.0.0.1:9/image.fits", "#this")]
        super().__init__(b"")

    @property
    def body(self) -> bytes:
        return datalink_document(self.rows if len(self.requests) <= self.LIMIT else [])

    @body.setter
    def body(self, value: bytes) -> None:  # FakeVOServer's body is fixed; this one's is not
        pass


def test_fault_a_datalink_service_answering_about_another_id_fails_naming_the_one_left_unanswered():
    with FakeDataLinkAnsweringOnlyAbout(FIELD_A_V) as fake, pytest.raises(StagingError) as raised:
        resolve_this(f"{fake.url}/dlmeta", [FIELD_A_V, FIELD_B_V])
    assert raised.value.identifier == FIELD_B_V and "did not answer about it" in raised.value.detail
    assert len(fake.requests) == 2  # both, then the one left; not again and again


def test_staging_resolves_access_urls_and_records_provenance(vo_server):
    query = ObsCoreQuery.from_params({"ra": 10, "dec": 20, "radius": 0.2})
    page = obscore_search(vo_server.tap_url, query)
    records = [dataset_record(service_url=vo_server.tap_url, row=row, datalink_url=page.datalink_url)
               for row in page.rows]
    events = []
    # As at checkout: the catalogue row's metadata with the user's own query from their cart line.
    staged = VOSource().stage([DatasetRef(r.identifier, {**r.metadata, "query": query.params()}) for r in records],
                              target=StagingTarget("hub"),
                              report=lambda message, *a, **k: events.append(message))
    assert [s.identifier for s in staged] == sorted([FIELD_A_V, FIELD_A_R])
    assert all(s.location == s.details["urls"][0] and "/getproduct/" in s.location for s in staged)
    provenance = staged[0].details["provenance"]
    assert provenance["service_url"] == vo_server.tap_url and provenance["query"] == {"ra": 10.0, "dec": 20.0,
                                                                                      "radius": 0.2}
    assert provenance["publisher_did"] == staged[0].identifier
    assert provenance["datalink_url"] == page.datalink_url
    # DaCHS's ObsCore DataLink service answers about one identifier per request: two rounds
    assert len(events) == 3 and "Resolving 2 DataLink(s)" in events[0]
    assert events[2] == f"DataLink: 2 of 2 identifier(s) answered by {page.datalink_url}."


def test_fault_staging_with_the_datalink_service_down_fails_with_the_cause(vo_server):
    ref = DatasetRef(FIELD_A_V, {"publisher_did": FIELD_A_V,
                                 "datalink_url": f"http://127.0.0.1:{closed_port()}/dlmeta"})
    with pytest.raises(SourceUnavailable, match="could not be reached") as raised:  # an outage, retryable
        VOSource(timeout=5).stage([ref], target=StagingTarget("hub"))
    assert raised.value.identifier == FIELD_A_V


def staged_refs(vo_server, **params) -> list[DatasetRef]:
    query = ObsCoreQuery.from_params(params)
    page = obscore_search(vo_server.tap_url, query)
    return [DatasetRef(r.identifier, r.metadata) for r in (
        dataset_record(service_url=vo_server.tap_url, row=row, datalink_url=page.datalink_url)
        for row in page.rows)]


def test_a_download_facility_with_a_mount_path_gets_a_copy_kept_on_retry(vo_server, tmp_path):
    refs = staged_refs(vo_server, ra=150, dec=2, radius=0.05)
    target = StagingTarget("hub", staging_mode="download", mount_path=str(tmp_path))
    staged = VOSource().stage(refs, target=target)
    copy = tmp_path / "vo" / staged[0].location.rsplit("/", 1)[-1]
    assert staged[0].location == str(copy) and staged[0].details["files"] == [str(copy)]
    assert copy.name.endswith("-field-b-v.fits") and copy.read_bytes().startswith(b"SIMPLE")
    assert staged[0].details["urls"] == [f"{vo_server.url}/getproduct/vofix/data/field-b-v.fits"]
    events = []
    VOSource().stage(refs, target=target, report=lambda message, *a, **k: events.append(message))
    assert not any("Downloading" in message for message in events)  # the copy is reused


def test_a_download_url_the_portal_policy_refuses_is_not_fetched(vo_server, tmp_path):
    def refuse_products(url: str) -> None:  # the DataLink service may be asked, its access URLs not fetched
        if "/getproduct/" in url:
            raise ValueError(f"{url} is not a public address")

    refs = staged_refs(vo_server, ra=150, dec=2, radius=0.05)
    target = StagingTarget("hub", staging_mode="download", mount_path=str(tmp_path))
    with pytest.raises(StagingError, match="may not be downloaded: .* is not a public address"):
        VOSource(url_policy=refuse_products).stage(refs, target=target)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_fault_a_missing_product_fails_the_download_and_leaves_no_partial_file(vo_server, tmp_path):
    ref = DatasetRef("ivo://x/missing", {"access_url": f"{vo_server.url}/getproduct/vofix/data/missing.fits",
                                         "access_format": "image/fits"})
    target = StagingTarget("hub", staging_mode="download", mount_path=str(tmp_path))
    with pytest.raises(StagingError, match="downloading .* failed: 404") as raised:
        VOSource().stage([ref], target=target)
    assert not isinstance(raised.value, SourceUnavailable)  # a fault of the data, not an outage
    assert list((tmp_path / "vo").iterdir()) == []


def test_fault_malformed_datalink_document_fails_staging_naming_the_dataset():
    ref = DatasetRef(FIELD_A_V, {"publisher_did": FIELD_A_V})
    with FakeMalformedVOTableServer() as fake:
        ref.metadata["datalink_url"] = f"{fake.url}/dlmeta"
        with pytest.raises(SourceUnavailable, match="malformed VOTable") as raised:
            VOSource().stage([ref], target=StagingTarget("hub"))
    assert raised.value.identifier == FIELD_A_V


def test_a_row_without_datalink_stages_its_access_url_but_a_datalink_document_url_is_refused():
    direct = DatasetRef("ivo://x/1", {"access_url": "http://example.org/a.fits",
                                      "access_format": "image/fits"})
    assert VOSource().stage([direct], target=StagingTarget("hub"))[0].location == "http://example.org/a.fits"
    datalink = DatasetRef("ivo://x/2", {"access_url": "http://example.org/dl?ID=2",
                                        "access_format": "application/x-votable+xml;content=datalink"})
    with pytest.raises(StagingError, match="no DataLink service is known"):
        VOSource().stage([datalink], target=StagingTarget("hub"))


# --- registry (RegTAP) ----------------------------------------------------------------------------------

def test_registry_finds_the_fixture_tap_and_sia2_services(vo_server):
    taps = registry_search(vo_server.registry_url, servicetype="tap", keywords="fixture")
    assert [(r.ivoid, r.access_url) for r in taps] == [("ivo://test.portal.local/tap", vo_server.tap_url)]
    sia2 = registry_search(vo_server.registry_url, servicetype="sia2")
    assert [r.access_url for r in sia2] == [vo_server.sia2_url]
    assert registry_search(vo_server.registry_url, servicetype="tap", keywords="nothing-like-this") == []


def test_registry_keywords_are_escaped(vo_server):
    assert registry_search(vo_server.registry_url, servicetype="tap", keywords="x' OR '1'='1") == []
