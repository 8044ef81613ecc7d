"""VO staging never lets a remote archive steer the worker to an address the portal's URL policy refuses:
the DataLink service and every download are vetted before the first request and at every redirect hop.
Launches sharing a facility's storage share its copies: one dataset is downloaded once, whole.

Real loopback servers: the "archive" on 127.0.0.1 (what the test policy calls public) and an "internal"
service on 127.0.0.2 (standing in for 169.254.169.254 or the portal's own network) that records every
request, so a test can show it was never called."""
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from staging.sources.base import DatasetRef, SourceUnavailable, StagedDataset, StagingError, StagingTarget
from staging.sources.vo_staging import VOSource, vo_source
from tests.servers.vo.fakes import VOTABLE_TYPE, datalink_document

ARCHIVE_HOST, INTERNAL_HOST = "127.0.0.1", "127.0.0.2"
DID = "ivo://archive.example/data/image.fits"
FITS = b"SIMPLE  =                    T" + b" " * 50

Route = tuple[int, dict[str, str], bytes]


class Site:
    """A loopback web server answering each path (query string ignored, any method) from `routes`; 404
    otherwise. `requests` records a GET as its path, other methods as e.g. "POST /tap/async". `midway`, if
    set, is called between the two halves of each body sent."""

    def __init__(self, host: str, routes: dict[str, Route] | None = None) -> None:
        self.routes, self.requests = routes or {}, []
        self.midway: Callable[[], None] | None = None
        site = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                site.requests.append(self.path if self.command == "GET" else f"{self.command} {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, body = site.routes.get(urlsplit(self.path).path, (404, {}, b""))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                half = len(body) // 2 if site.midway else len(body)
                self.wfile.write(body[:half])
                self.wfile.flush()
                if site.midway:
                    site.midway()
                self.wfile.write(body[half:])

            do_GET = do_POST = do_DELETE = answer

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def redirect(location: str) -> Route:
    return 302, {"Location": location}, b""


def archive_only(url: str) -> None:
    """The test's stand-in for the portal's policy: only the archive's address is public."""
    if urlsplit(url).hostname != ARCHIVE_HOST:
        raise ValueError(f"{url} is not a public address")


@pytest.fixture
def archive() -> Iterator[Site]:
    site = Site(ARCHIVE_HOST)
    yield site
    site.close()


@pytest.fixture
def internal() -> Iterator[Site]:
    links = datalink_document([(DID, f"http://{ARCHIVE_HOST}:9/image.fits", "#this")])
    site = Site(INTERNAL_HOST, {"/latest/meta-data": (200, {}, b"instance credentials"),
                                "/dlmeta": (200, {"Content-Type": VOTABLE_TYPE}, links)})
    yield site
    site.close()


def download(access_url: str, folder: Path, **options) -> list[StagedDataset]:
    ref = DatasetRef(DID, {"access_url": access_url, "access_format": "image/fits"})
    target = StagingTarget("hub", staging_mode="download", mount_path=str(folder))
    return VOSource(timeout=5, url_policy=archive_only, **options).stage([ref], target=target)


def resolve(datalink_url: str, source: VOSource) -> list[StagedDataset]:
    return source.stage([DatasetRef(DID, {"publisher_did": DID, "datalink_url": datalink_url})])


# --- downloads ------------------------------------------------------------------------------------------

def test_a_download_redirected_to_a_refused_address_is_not_followed(archive, internal, tmp_path):
    archive.routes["/image.fits"] = redirect(f"{internal.url}/latest/meta-data")

    with pytest.raises(StagingError) as refused:
        download(f"{archive.url}/image.fits", tmp_path)

    assert not isinstance(refused.value, SourceUnavailable)  # not an outage: retrying will not help
    assert refused.value.identifier == DID
    refused_url = f"{internal.url}/latest/meta-data"
    assert refused.value.detail == (f"its access URL {archive.url}/image.fits (or a redirect from it) may "
                                    f"not be downloaded: {refused_url} is not a public address")
    assert internal.requests == []
    assert copies(tmp_path) == []


def test_redirects_between_allowed_addresses_are_followed_up_to_five_hops(archive, tmp_path):
    archive.routes.update({f"/hop{n}": redirect(f"/hop{n + 1}") for n in range(6)})
    archive.routes["/hop6"] = (200, {}, FITS)

    five = download(f"{archive.url}/hop1", tmp_path / "five")
    assert open(five[0].location, "rb").read() == FITS

    with pytest.raises(StagingError, match=r"downloading .*/hop0 failed: Exceeded 5 redirects"):
        download(f"{archive.url}/hop0", tmp_path / "six")
    assert archive.requests.count("/hop6") == 1  # by the five-hop download only
    assert copies(tmp_path / "six") == []


def test_two_launches_downloading_one_dataset_at_once_get_one_whole_copy_fetched_once(archive, tmp_path):
    image = bytes(range(256)) * 4096  # 1 MiB without runs of zeros, so that a wiped part would show
    archive.routes["/image.fits"] = (200, {}, image)
    archive.midway = lambda: _until(lambda: len(archive.requests) > 1, seconds=2)  # the second overtakes
    results: dict[str, list[StagedDataset] | Exception] = {}

    def launch(name: str) -> None:
        try:
            results[name] = download(f"{archive.url}/image.fits", tmp_path)
        except Exception as error:
            results[name] = error
    first = threading.Thread(target=launch, args=("first",))
    first.start()
    _until(lambda: archive.requests, seconds=5)  # the first is mid-download, waiting on `midway`
    second = threading.Thread(target=launch, args=("second",))
    second.start()
    first.join(10), second.join(10)

    assert not [result for result in results.values() if isinstance(result, Exception)]
    [first_copy], [second_copy] = results["first"], results["second"]
    assert first_copy.location == second_copy.location
    assert open(first_copy.location, "rb").read() == image
    assert archive.requests == ["/image.fits"]  # the second waited for the first's copy
    assert copies(tmp_path) == [Path(first_copy.location).name]


def test_a_download_cut_short_leaves_no_partial_file_and_the_next_launch_downloads_again(archive, tmp_path):
    archive.routes["/image.fits"] = (200, {}, FITS)
    with pytest.raises(StagingError, match="larger than the limit of 10 bytes"):
        download(f"{archive.url}/image.fits", tmp_path, max_download_bytes=10)
    assert copies(tmp_path) == []

    [staged] = download(f"{archive.url}/image.fits", tmp_path)

    assert open(staged.location, "rb").read() == FITS
    assert copies(tmp_path) == [Path(staged.location).name]


def copies(folder: Path) -> list[str]:
    """Every file under `folder`, hidden ones included (a partial download, a lock file)."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def _until(condition: Callable[[], object], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


# --- DataLink -------------------------------------------------------------------------------------------

def test_a_datalink_service_the_policy_refuses_is_never_called(internal):
    with pytest.raises(StagingError) as refused:
        resolve(f"{internal.url}/dlmeta", VOSource(timeout=5, url_policy=archive_only))

    assert not isinstance(refused.value, SourceUnavailable)
    assert refused.value.identifier == DID
    assert refused.value.detail.startswith(f"its DataLink service {internal.url}/dlmeta (or a redirect from "
                                           f"it) may not be called: {internal.url}/dlmeta?ID=")
    assert internal.requests == []


def test_a_datalink_service_redirecting_to_a_refused_address_is_not_followed(archive, internal):
    archive.routes["/dlmeta"] = redirect(f"{internal.url}/dlmeta")

    refused = f"may not be called: {internal.url}/dlmeta is not a public address"
    with pytest.raises(StagingError, match=refused):
        resolve(f"{archive.url}/dlmeta", VOSource(timeout=5, url_policy=archive_only))

    assert len(archive.requests) == 1 and internal.requests == []


def test_the_portal_vets_the_datalink_service_with_its_ssrf_guard(settings, archive):
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    archive.routes["/dlmeta"] = (200, {"Content-Type": VOTABLE_TYPE},
                                 datalink_document([(DID, f"{archive.url}/image.fits", "#this")]))

    refused = r"may not be called: The URL .* is not allowed: 127\.0\.0\.1 is not a public address"
    with pytest.raises(StagingError, match=refused):
        resolve(f"{archive.url}/dlmeta", vo_source)

    assert archive.requests == []


# --- DNS rebinding ----------------------------------------------------------------------------------------

class ArchiveOnlyWithPeers:
    """The test's policy with the portal's two parts: the URL's host name must resolve to the archive's
    address, and so must the address a connection actually reaches."""

    def __call__(self, url: str) -> None:
        import socket

        resolved = {info[4][0] for info in socket.getaddrinfo(urlsplit(url).hostname, 80)}
        if resolved != {ARCHIVE_HOST}:
            raise ValueError(f"{url} resolves to {sorted(resolved)}, not a public address")

    def peer(self, address: str) -> None:
        if address != ARCHIVE_HOST:
            raise ValueError(f"{address} is not a public address")


@pytest.fixture
def fake_rebinding_resolver(monkeypatch):
    """A name that answers the archive's address once, then the internal one: what a hostile DNS server
    does between the portal's check and its connection. No DNS server the system resolver would ask can
    be run on these machines, hence this stand-in for the system resolver."""
    import socket

    real, asked = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "archive.test":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = ARCHIVE_HOST if len(asked) == 1 else INTERNAL_HOST
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_fault_a_host_name_that_rebinds_to_a_refused_address_is_cut_off_before_anything_is_sent(
        internal, tmp_path, fake_rebinding_resolver):
    port = urlsplit(internal.url).port
    ref = DatasetRef(DID, {"access_url": f"http://archive.test:{port}/latest/meta-data"})
    target = StagingTarget("hub", staging_mode="download", mount_path=str(tmp_path))

    with pytest.raises(StagingError, match=f"a connection reached {INTERNAL_HOST}"):
        VOSource(timeout=5, url_policy=ArchiveOnlyWithPeers()).stage([ref], target=target)

    assert len(fake_rebinding_resolver) == 2  # checked once, connected once: the second answer differed
    assert internal.requests == []
    assert copies(tmp_path) == []
