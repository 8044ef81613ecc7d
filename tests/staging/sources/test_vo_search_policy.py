"""A VO search never lets the searched service steer the portal's web process to an address the URL policy
refuses: the service's own URL, its redirects, the async job it creates and the result URLs it names are
each vetted before they are requested.

The servers and the policy are test_vo_staging.py's: an "archive" on 127.0.0.1 (what the test policy calls
public) and a recording "internal" server on 127.0.0.2 (standing in for 169.254.169.254 or the portal's own
network), so a test can show it was never called."""
from collections.abc import Callable, Iterator

import pytest

from staging.sources.vo import (
    ASYNC_THRESHOLD, ObsCoreQuery, obscore_rows, obscore_search, registry_search, sia2_rows, sia2_search,
)
from staging.sources.vo_errors import URLRefused
from tests.staging.sources.test_vo_staging import (  # noqa: F401  (archive: a fixture the tests use)
    INTERNAL_HOST, Route, Site, archive, archive_only, redirect,
)

DID = "ivo://archive.example/data/image.fits"
CONE = ObsCoreQuery.from_params({"ra": 10, "dec": 20, "radius": 0.1})
METADATA = "/latest/meta-data"

Search = Callable[[str], object]
SEARCHES: dict[str, Search] = {
    "TAP search": lambda url: obscore_search(url, CONE, timeout=5, url_policy=archive_only),
    "TAP async search": lambda url: obscore_search(url, CONE, page_size=ASYNC_THRESHOLD, timeout=5,
                                                   url_policy=archive_only),
    "TAP re-read for the cart": lambda url: obscore_rows(url, [DID], timeout=5, url_policy=archive_only),
    "SIA2 search": lambda url: sia2_search(url, CONE, timeout=5, url_policy=archive_only),
    "SIA2 re-read for the cart": lambda url: sia2_rows(url, [DID], timeout=5, url_policy=archive_only),
    "registry search": lambda url: registry_search(url, keywords="images", timeout=5,
                                                   url_policy=archive_only),
}


def see_other(location: str) -> Route:
    return 303, {"Location": location}, b""


def uws_job(phase: str, result_url: str) -> Route:
    body = (f'<?xml version="1.0"?><uws:job xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" '
            f'xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1"><uws:jobId>job1</uws:jobId>'
            f'<uws:phase>{phase}</uws:phase><uws:results><uws:result id="result" xlink:href="{result_url}"/>'
            f'</uws:results></uws:job>')
    return 200, {"Content-Type": "text/xml"}, body.encode()


@pytest.fixture
def internal() -> Iterator[Site]:
    site = Site(INTERNAL_HOST, {METADATA: (200, {}, b"instance credentials")})
    yield site
    site.close()


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
def test_a_service_the_policy_refuses_is_never_searched(internal, search):
    with pytest.raises(URLRefused, match=f"^{internal.url}/tap.* is not a public address$"):
        search(f"{internal.url}/tap")

    assert internal.requests == []


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
def test_a_search_redirected_to_a_refused_address_is_not_followed(archive, internal, search):
    archive.routes.update({path: redirect(f"{internal.url}{METADATA}")
                           for path in ("/tap", "/tap/sync", "/tap/async", "/tap/capabilities")})

    with pytest.raises(URLRefused, match=f"^{internal.url}{METADATA} is not a public address$"):
        search(f"{archive.url}/tap")

    assert len(archive.requests) == 1 and internal.requests == []


def test_an_async_job_the_service_places_at_a_refused_address_is_never_polled(archive, internal):
    archive.routes["/tap/async"] = see_other(f"{internal.url}/tap/async/job1")

    with pytest.raises(URLRefused, match=f"^{internal.url}/tap/async/job1 is not a public address$"):
        SEARCHES["TAP async search"](f"{archive.url}/tap")

    assert internal.requests == []


def test_async_results_the_job_places_at_a_refused_address_are_not_fetched(archive, internal):
    job = f"{archive.url}/tap/async/job1"
    archive.routes.update({"/tap/async": see_other(job), "/tap/async/job1/phase": see_other(job),
                           "/tap/async/job1": uws_job("COMPLETED", f"{internal.url}{METADATA}")})

    with pytest.raises(URLRefused, match=f"^{internal.url}{METADATA} is not a public address$"):
        SEARCHES["TAP async search"](f"{archive.url}/tap")

    assert internal.requests == []
    assert archive.requests[-1] == "DELETE /tap/async/job1"  # the job is still cleaned up
