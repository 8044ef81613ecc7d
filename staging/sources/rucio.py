"""The Rucio data source: every rucio-clients call of the portal lives here or, for the life of a replication
rule, in rucio_rules.py. Finds DIDs in a data lake, lists their files, and stages them for a facility, either
with a replication rule to the facility's RSE expression (then the PFNs are mapped onto the storage's mount
path) or by downloading them in the worker.

No Django here: an instance's configuration comes in as a RucioInstance (the portal builds it from its
DataLake row), and `instances` resolves the slug a catalogue dataset recorded in its metadata.
"""
import logging
import os
import posixpath
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

import requests

from staging.sources import downloads
from staging.sources.base import (
    DatasetRecord, DatasetRef, Report, SourceUnavailable, StagedDataset, StagingError, StagingPending,
    StagingTarget, silent,
)

KIND = "rucio"
# Before rucio reads any configuration: see the file for why it exists.
os.environ.setdefault("RUCIO_CONFIG", str(Path(__file__).with_name("rucio_client.cfg")))

from rucio.client import Client  # noqa: E402
from rucio.common import exception as rucio_errors  # noqa: E402

LOG = logging.getLogger(__name__)  # the adapter's log; rucio_rules.py warns through it


class _HidePassword(logging.Filter):
    """rucio-clients logs every request header at DEBUG and hides only the token, not the
    X-Rucio-Password of a userpass login."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "X-Rucio-Password" in str(record.msg) or "X-Rucio-Password" in str(record.args):
            record.msg, record.args = "HTTP header:  X-Rucio-Password: [hidden]", ()
        return True


CLIENT_LOG = logging.getLogger(f"{__name__}.client")  # the logger handed to rucio-clients
CLIENT_LOG.addFilter(_HidePassword())


@dataclass(frozen=True)
class RucioInstance:
    """How the portal reaches one Rucio instance. The password never leaves this object's client."""

    slug: str
    server_url: str
    account: str
    username: str = ""
    password: str = field(default="", repr=False)
    auth_url: str = ""
    auth_type: str = "userpass"
    vo: str = "def"
    token_dir: str = ""  # private token cache of this instance (0700); default: under ~/.cache
    timeout: int = 30
    request_retries: int = 3
    rule_lifetime_seconds: int = 7 * 24 * 3600
    comment: str = "esap checkout"


@dataclass(frozen=True)
class FileInfo:
    scope: str
    name: str
    bytes: int | None
    adler32: str | None = None


def connect(instance: RucioInstance) -> Client:
    """A logged-in client built only from `instance`: no rucio.cfg with secrets, explicit timeout and
    request_retries, and a token cache private to the instance (the stock cache is keyed by OS user and
    account only, so two instances with the same account name would share tokens)."""
    token_dir = Path(instance.token_dir or Path.home() / ".cache" / "esap" / "rucio" / instance.slug)
    token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    client_class = type("InstanceClient", (Client,), {"TOKEN_PATH_PREFIX": f"{token_dir}/.rucio_",
                                                      "REQUEST_RETRIES": instance.request_retries})
    with translated_errors(instance):
        client = client_class(
            rucio_host=instance.server_url, auth_host=instance.auth_url or instance.server_url,
            account=instance.account, auth_type=instance.auth_type, vo=instance.vo,
            creds={"username": instance.username, "password": instance.password},
            timeout=instance.timeout, user_agent="esap", logger=CLIENT_LOG)
    client.request_retries = instance.request_retries  # a stray rucio.cfg must not override ours
    return client


class RucioError(Exception):
    """Rucio said no; the message is safe to show (no credentials)."""


class RucioOutage(RucioError):
    """Rucio could not be used at all (down, hanging, refusing the portal's login): not the user's doing."""


@contextmanager
def translated_errors(instance: RucioInstance, identifier: str = "") -> Iterator[None]:
    """Rucio's exceptions and network errors as one readable message."""
    try:
        yield
    except rucio_errors.CannotAuthenticate:
        raise RucioOutage(f"Rucio instance {instance.slug!r} refused the portal's login "
                               f"(account {instance.account!r}); an operator must fix its credentials")
    except rucio_errors.DataIdentifierNotFound:
        raise RucioError(f"no such data identifier in Rucio instance {instance.slug!r}")
    except rucio_errors.InsufficientAccountLimit as error:
        raise RucioError(f"the portal's Rucio quota is exceeded: {_reason(error)}")
    except (rucio_errors.ServerConnectionException, requests.ConnectionError):
        raise RucioOutage(f"Rucio instance {instance.slug!r} at {instance.server_url} "
                               "could not be reached")
    except requests.Timeout:
        raise RucioOutage(f"Rucio instance {instance.slug!r} did not answer within {instance.timeout} s")
    except rucio_errors.DatabaseException as error:
        raise RucioOutage(f"Rucio instance {instance.slug!r} failed: {_reason(error)}")
    except rucio_errors.RucioException as error:
        raise RucioError(f"Rucio instance {instance.slug!r} answered: {_reason(error)}")


def _reason(error: Exception) -> str:
    return " ".join(str(arg).strip() for arg in getattr(error, "args", ()) if arg) or type(error).__name__


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
                raise _staging_error(refs[0], error) from error
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
    # rucio_rules builds on this module's client and error translation: imported here, else a cycle
    from staging.sources.rucio_rules import ensure_rule, wait_for_rules

    if not target.rse_expression:
        raise StagingError(refs[0].identifier, f"facility {target.facility_slug!r} has no RSE expression")
    client = connect(instance)
    rules = {}
    for ref in refs:
        with _for(ref), translated_errors(instance):
            rules[ref.identifier] = ensure_rule(client, instance, _did(ref), target.rse_expression,
                                                report if target.seen is None else silent)
    if target.seen is None:  # a later look finds the same rules: said already
        report(f"Replication rule(s) {', '.join(rules.values())} to {target.rse_expression}.",
               rules=list(rules.values()))
    wait_for_rules(client, instance, rules, target=target, report=report)
    with translated_errors(instance):
        return [_staged_on_rse(client, ref, target, rules[ref.identifier]) for ref in refs]


@contextmanager
def _for(ref: DatasetRef) -> Iterator[None]:
    try:
        yield
    except RucioError as error:
        raise _staging_error(ref, error) from error


def _staging_error(ref: DatasetRef, error: RucioError) -> StagingError:
    kind = SourceUnavailable if isinstance(error, RucioOutage) else StagingError
    return kind(ref.identifier, str(error))


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
        with _for(ref), translated_errors(instance):
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
