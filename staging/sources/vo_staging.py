"""The Virtual Observatory as a data source at checkout: each dataset's DataLink `#this` links resolved
into access URLs (batched requests to each DataLink service, through vo.py), recorded with the provenance
the notebook keeps (the service the user searched, query, identifier); a facility that stages by download
gets a size-capped copy too. No Django here."""
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import requests

from staging.sources import downloads, vo, vo_errors
from staging.sources.base import (
    DatasetRef, Report, SourceUnavailable, StagedDataset, StagingError, StagingTarget, register, silent,
)
from staging.sources.vo_query import VOQueryError

MAX_DOWNLOAD_BYTES = 2 * 1024**3


@dataclass
class VOSource:
    kind: str = vo.KIND
    label: str = "Virtual Observatory (TAP/ObsCore, SIA2, DataLink)"
    timeout: float = vo.TIMEOUT
    max_download_bytes: int = MAX_DOWNLOAD_BYTES
    # Vets every URL the worker requests, redirect hops included (the portal plugs in its SSRF guard):
    # DataLink services and access URLs come from remote VOTables and could name hosts inside our network.
    url_policy: vo.UrlPolicy | None = None

    def stage(self, datasets: list[DatasetRef], *, target: StagingTarget | None = None,
              report: Report = silent) -> list[StagedDataset]:
        """Resolves each dataset's access URLs. A facility that stages by download and has a mount path
        gets a copy of each first URL there too (kept on a retry); otherwise the notebook opens the URLs."""
        urls: dict[str, list[str]] = {}
        for datalink_url, refs in _by_datalink(datasets).items():
            if not datalink_url:
                urls.update({_publisher_did(ref): [_direct_url(ref)] for ref in refs})
                continue
            report(f"Resolving {len(refs)} DataLink(s) at {datalink_url}.", datalink_url=datalink_url)
            ids = [_publisher_did(ref) for ref in refs]
            try:
                urls.update(vo.resolve_this(datalink_url, ids, timeout=self.timeout,
                                            url_policy=self.url_policy, report=report))
            except vo_errors.URLRefused as error:
                raise StagingError(refs[0].identifier, f"its DataLink service {datalink_url} (or a redirect "
                                                       f"from it) may not be called: {error}") from error
            except vo_errors.VOServiceError as error:  # an outage: the checkout can be retried later
                raise SourceUnavailable(refs[0].identifier, str(error)) from error
            except VOQueryError as error:
                raise StagingError(refs[0].identifier, str(error)) from error
        resolved_at = datetime.now(UTC).isoformat(timespec="seconds")
        staged = [_staged(ref, urls[_publisher_did(ref)], resolved_at) for ref in datasets]
        if target and target.staging_mode == "download" and target.mount_path:
            staged = [self._download(item, Path(target.mount_path) / "vo", report) for item in staged]
        return staged

    def _download(self, item: StagedDataset, folder: Path, report: Report) -> StagedDataset:
        url = item.details["urls"][0]
        path = folder / _file_name(item.identifier, url)
        try:
            # Another launch of this dataset may be copying it into the same place: wait for its copy.
            with downloads.exclusive(path):
                if not path.exists():
                    report(f"Downloading {url}.", url=url)
                    _fetch(vo.http_session(self.timeout, self.url_policy), url, path,
                           limit=self.max_download_bytes)
        except vo_errors.URLRefused as error:
            raise StagingError(item.identifier, f"its access URL {url} (or a redirect from it) may not "
                                                f"be downloaded: {error}") from error
        except (requests.RequestException, OSError, ValueError) as error:
            fault = SourceUnavailable if vo_errors.is_outage(error) else StagingError
            raise fault(item.identifier, f"downloading {url} failed: {vo_errors.error_reason(error)}") from error
        return StagedDataset(item.identifier, str(path), {**item.details, "files": [str(path)]})


def _file_name(identifier: str, url: str) -> str:
    """Unique per dataset, readable, and safe as one path component whatever the URL holds."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", urlsplit(url).path.rsplit("/", 1)[-1]).strip("._")[:80]
    return f"{hashlib.sha256(identifier.encode()).hexdigest()[:12]}-{stem or 'dataset'}"


def _fetch(session: requests.Session, url: str, path: Path, *, limit: int) -> None:
    with session.get(url, stream=True) as response:
        response.raise_for_status()
        with downloads.written_whole(path) as out:
            _copy(response, out, limit)


def _copy(response: requests.Response, out: BinaryIO, limit: int) -> None:
    received = 0
    for chunk in response.iter_content(1 << 16):
        received += len(chunk)
        if received > limit:
            raise ValueError(f"it is larger than the limit of {limit} bytes")
        out.write(chunk)


def _staged(ref: DatasetRef, urls: list[str], resolved_at: str) -> StagedDataset:
    meta = ref.metadata
    provenance = {"service_url": meta.get("service_url", ""), "service_name": meta.get("service_name", ""),
                  "query": meta.get("query", {}), "publisher_did": _publisher_did(ref),
                  "datalink_url": meta.get("datalink_url", ""), "resolved_at": resolved_at}
    details = {"urls": urls, "access_format": meta.get("access_format", ""), "provenance": provenance}
    return StagedDataset(ref.identifier, urls[0], details)


def _by_datalink(datasets: list[DatasetRef]) -> dict[str, list[DatasetRef]]:
    grouped: dict[str, list[DatasetRef]] = {}
    for ref in datasets:
        grouped.setdefault(ref.metadata.get("datalink_url") or "", []).append(ref)
    return grouped


def _publisher_did(ref: DatasetRef) -> str:
    return ref.metadata.get("publisher_did") or ref.identifier


def _direct_url(ref: DatasetRef) -> str:
    url, fmt = ref.metadata.get("access_url") or "", ref.metadata.get("access_format") or ""
    if not url:
        raise StagingError(ref.identifier, "its catalogue entry has no DataLink service and no access URL")
    if vo.DATALINK_FORMAT in fmt:
        raise StagingError(ref.identifier, "its access URL is a DataLink document and no DataLink service "
                                           "is known")
    return url


vo_source = register(VOSource())
