"""The Rucio data source: every rucio-clients call of the portal lives here, in rucio_rules.py (the life of
a replication rule) or in rucio_connection.py (the client and its errors). Finds DIDs in a data lake, lists their files, and stages them for a facility, either
with a replication rule to the facility's RSE expression (then the PFNs are mapped onto the storage's mount
path) or by downloading them in the worker.

No Django here: an instance's configuration comes in as a RucioInstance (the portal builds it from its
DataLake row), and `instances` resolves the slug a catalogue dataset recorded in its metadata.
"""
import logging
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

from staging.sources import downloads
from staging.sources.base import (
    DatasetRecord, DatasetRef, Report, SourceUnavailable, StagedDataset, StagingError, StagingPending,
    StagingTarget, silent,
)
from staging.sources.rucio_connection import (  # callers know these as rucio.RucioInstance, rucio.RucioOutage...
    CLIENT_LOG, Client, RucioError, RucioInstance, RucioOutage, connect, for_dataset, staging_error,  # noqa: F401
    translated_errors,
)
from staging.sources.rucio_rules import ensure_rule, wait_for_rules

KIND = "rucio"
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileInfo:
    scope: str
    name: str
    bytes: int | None
    adler32: str | None = None


# --- finding datasets -------------------------------------------------------------------------------

def search(instance: RucioInstance, *, scope: str, name: str = "*", metadata: dict[str, str] | None = None,
           did_type: str = "dataset", limit: int = 100) -> list[DatasetRecord]:
    """DIDs of `scope` whose name matches the wildcard pattern and whose metadata equal `metadata`, as
    catalogue records with their size from list_files."""
    client = connect(instance)
    with translated_errors(instance):
        found = client.list_dids(scope, filters=[{"name": name, **(metadata or {})}], did_type=did_type)
        names = [n for _, n in zip(range(limit), found)]
        return [_record(instance, client, scope, n) for n in names]


def list_files(instance: RucioInstance, scope: str, name: str,
               client: Client | None = None) -> list[FileInfo]:
    client = client or connect(instance)
    with translated_errors(instance):
        return [FileInfo(f["scope"], f["name"], f.get("bytes"), f.get("adler32"))
                for f in client.list_files(scope, name)]


def _record(instance: RucioInstance, client: Client, scope: str, name: str) -> DatasetRecord:
    did = client.get_did(scope, name)
    files = list_files(instance, scope, name, client) if did["type"] != "FILE" else [
        FileInfo(scope, name, did.get("bytes"))]
    meta = {k: v for k, v in client.get_metadata(scope, name).items()
            if k in ("project", "datatype", "run_number", "stream_name", "version", "campaign") and v}
    size = sum(f.bytes or 0 for f in files)
    return DatasetRecord(
        source=KIND, identifier=identifier(instance.slug, scope, name), title=name,
        description=f"Rucio {did['type'].lower()} {scope}:{name} on {instance.slug}, {len(files)} file(s)",
        size_bytes=size,
        metadata={"instance": instance.slug, "scope": scope, "name": name, "did_type": did["type"],
                  "files": len(files), "keywords": [scope, *map(str, meta.values())], **meta})


def identifier(instance: str, scope: str, name: str) -> str:
    """Unique across instances; the DID itself stays readable."""
    return f"{instance}/{scope}:{name}"


# --- staging ----------------------------------------------------------------------------------------

@dataclass
class RucioSource:
    """`instances` turns a slug into its RucioInstance (the portal reads its DataLake table)."""

    instances: Callable[[str], RucioInstance]
    kind: str = KIND
    label: str = "Rucio data lake"

    def stage(self, datasets: list[DatasetRef], *, target: StagingTarget,
              report: Report = silent) -> list[StagedDataset]:
        staged: dict[str, StagedDataset] = {}
        pending: list[StagingPending] = []
        run_ends = time.monotonic() + target.wait_seconds  # one wait per run, however many instances
        for slug, refs in _by_instance(datasets).items():
            instance = self._instance(slug, refs[0])
            waiting_target = replace(target, wait_seconds=max(0.0, run_ends - time.monotonic()))
            try:
                stage = stage_by_rule if target.staging_mode == "rule" else stage_by_download
                staged.update({s.identifier: s for s in stage(instance, refs, target=waiting_target, report=report)})
            except StagingPending as waiting:
                pending.append(waiting)  # the other instances' rules still get made now
            except RucioError as error:
                raise staging_error(refs[0], error) from error
        if pending:
            raise StagingPending("; ".join(waiting.detail for waiting in pending),
                                 retry_in=target.recheck_in(time.time()))
        return [staged[ref.identifier] for ref in datasets]

    def _instance(self, slug: str, ref: DatasetRef) -> RucioInstance:
        try:
            return self.instances(slug)
        except LookupError:
            raise SourceUnavailable(ref.identifier,
                                    f"the Rucio instance {slug!r} is not configured in the portal")


def _by_instance(datasets: list[DatasetRef]) -> dict[str, list[DatasetRef]]:
    grouped: dict[str, list[DatasetRef]] = {}
    for ref in datasets:
        if not {"instance", "scope", "name"} <= ref.metadata.keys():
            raise StagingError(ref.identifier, "the catalogue entry has no Rucio instance, scope and name")
        grouped.setdefault(ref.metadata["instance"], []).append(ref)
    return grouped


def _did(ref: DatasetRef) -> dict[str, str]:
    return {"scope": ref.metadata["scope"], "name": ref.metadata["name"]}


def stage_by_rule(instance: RucioInstance, refs: list[DatasetRef], *, target: StagingTarget,
                  report: Report = silent) -> list[StagedDataset]:
    """A replication rule per DID to the facility's RSE expression (ours if one exists already), polled
    until every rule is OK; then each file's PFN on that storage, mapped onto its mount path."""
    if not target.rse_expression:
        raise StagingError(refs[0].identifier, f"facility {target.facility_slug!r} has no RSE expression")
    client = connect(instance)
    rules = {}
    for ref in refs:
        with for_dataset(ref), translated_errors(instance):
            rules[ref.identifier] = ensure_rule(client, instance, _did(ref), target.rse_expression,
                                                report if target.seen is None else silent)
    if target.seen is None:  # a later look finds the same rules: said already
        report(f"Replication rule(s) {', '.join(rules.values())} to {target.rse_expression}.",
               rules=list(rules.values()))
    wait_for_rules(client, instance, rules, target=target, report=report)
    with translated_errors(instance):
        return [_staged_on_rse(client, ref, target, rules[ref.identifier]) for ref in refs]


def _staged_on_rse(client: Client, ref: DatasetRef, target: StagingTarget, rule_id: str) -> StagedDataset:
    prefixes = {}
    paths = []
    for replica in client.list_replicas([_did(ref)], schemes=["file"], rse_expression=target.rse_expression,
                                        sort="random"):
        rse, pfn = next(((r, p) for p, info in replica["pfns"].items() for r in [info["rse"]]), (None, None))
        if pfn is None:
            raise StagingError(ref.identifier, f"{replica['name']} has no replica on {target.rse_expression}")
        if rse not in prefixes:
            prefixes[rse] = _file_prefix(client, rse)
        paths.append(mounted_path(pfn, prefixes[rse], target.mount_path, identifier=ref.identifier))
    if not paths:
        raise StagingError(ref.identifier, f"no file of the dataset is on {target.rse_expression}")
    paths.sort()
    return StagedDataset(ref.identifier, _location(paths), {
        "files": paths, "did": f"{ref.metadata['scope']}:{ref.metadata['name']}", "rule_id": rule_id,
        "rse_expression": target.rse_expression})


def _file_prefix(client: Client, rse: str) -> str:
    found = client.get_protocols(rse, scheme="file")
    if isinstance(found, dict):  # one protocol, or the RSE's settings with a "protocols" list
        found = found.get("protocols", [found])
    return next((p["prefix"] for p in found if p.get("scheme") == "file" and "prefix" in p), "/")


def mounted_path(pfn: str, rse_prefix: str, mount_path: str, *, identifier: str) -> str:
    """The file as the facility's servers see it: the PFN's path below the RSE's prefix (which may be
    "/"), under the mount path. Without a mount path the PFN itself is the location. A PFN outside the
    prefix raises StagingError for the dataset `identifier`."""
    if not mount_path:
        return pfn
    path = posixpath.normpath(urlparse(pfn).path)
    prefix = posixpath.normpath(rse_prefix).rstrip("/")
    if not path.startswith(prefix + "/"):
        raise StagingError(identifier, f"its file {pfn} is not below the RSE's file prefix {rse_prefix!r}, "
                                       f"so it has no path under the mount path {mount_path}")
    return posixpath.join(mount_path, path[len(prefix) + 1:])


def _location(paths: list[str]) -> str:
    return paths[0] if len(paths) == 1 else posixpath.commonpath(paths)


def _prime_rse_info(client: Client, did: dict[str, str]) -> None:
    """DownloadClient looks RSEs up through a new Client built from rucio.cfg alone (rsemanager's
    get_rse_info), which has no host or credentials here; it reads a process-wide cache first, so we fill
    that with the same answers from our own client."""
    from rucio.rse import rsemanager

    rses = {rse for replica in client.list_replicas([did], sort="random") for rse in replica["rses"]}
    for rse in rses:
        rsemanager.RSE_REGION.set(f"rse_info_{rse}:{client.vo}", client.get_rse(rse))


def stage_by_download(instance: RucioInstance, refs: list[DatasetRef], *, target: StagingTarget,
                      report: Report = silent) -> list[StagedDataset]:
    """The worker downloads each dataset into <mount path>/<scope>/<name>/ (the facility's storage as
    the worker sees it): the portal's Rucio credentials never reach the user's server. Files already
    there are not fetched again, nor by two launches at once."""
    from rucio.client.downloadclient import DownloadClient

    if not target.mount_path:
        raise StagingError(refs[0].identifier, f"facility {target.facility_slug!r} has no data mount path")
    client = connect(instance)
    downloader = DownloadClient(client=client, logger=CLIENT_LOG)
    staged = []
    for position, ref in enumerate(refs):
        did = _did(ref)
        report(f"Downloading {did['scope']}:{did['name']}.", int(100 * position / len(refs)))
        with for_dataset(ref), translated_errors(instance):
            _prime_rse_info(client, did)
            base_dir = posixpath.join(target.mount_path, did["scope"])
            # Another launch may be downloading this DID into the same folder: rucio-clients would delete
            # its partial files and fail both, so the second waits and then finds the files there.
            with downloads.exclusive(Path(base_dir) / did["name"]):
                results = downloader.download_dids([{"did": f"{did['scope']}:{did['name']}",
                                                     "base_dir": base_dir}])
        paths = sorted(p for r in results for p in r.get("dest_file_paths", [])) or []
        failed = [r["name"] for r in results if r.get("clientState") not in ("DONE", "ALREADY_DONE",
                                                                               "FILE_ALREADY_EXISTS")]
        if failed or not paths:
            raise StagingError(ref.identifier, f"download failed for {', '.join(failed) or 'every file'}")
        staged.append(StagedDataset(ref.identifier, _location(paths), {
            "files": paths, "did": f"{did['scope']}:{did['name']}"}))
    return staged
