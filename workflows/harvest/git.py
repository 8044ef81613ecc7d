"""Fetching one commit of a Git repository with git itself: shallow, time- and size-limited, no prompts,
no local or exotic transports, no redirects, and over HTTP(S) connected to the addresses the outbound
check vetted (`Pin`), not to whatever the host name resolves to by then. No Django here."""
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from urllib.parse import urlsplit

ALLOWED_PROTOCOLS = "http:https:git"
LOW_SPEED_BYTES_PER_SECOND = 1000
LOW_SPEED_SECONDS = 30
# Every git run: no file transport, no hooks, no HTTP redirects (the URL's host is what was checked against
# the outbound policy; a redirect would take git to a host nobody checked), and a server that stalls
# mid-transfer is dropped without waiting for the whole time limit.
# Nor does a checkout run the Git LFS filter a worker's own git configuration may define: it would fetch
# from whatever LFS server the repository's .lfsconfig names, a host nobody checked (LFS files stay pointers).
CONFIG = ["protocol.file.allow=never", "core.hooksPath=/dev/null", "advice.detachedHead=false",
          "http.followRedirects=false", f"http.lowSpeedLimit={LOW_SPEED_BYTES_PER_SECOND}",
          f"http.lowSpeedTime={LOW_SPEED_SECONDS}", "filter.lfs.smudge=", "filter.lfs.process=",
          "filter.lfs.required=false"]
PINNING_GIT = (2, 37)  # the first git with http.curloptResolve; older ones ignore the setting silently
# Loosely git check-ref-format: no option-like start, no whitespace or control characters, no range or
# revision syntax. A full commit SHA passes.
_BAD_REF = re.compile(r"^-|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^/|/$|\.lock$|\.$|//")


@dataclass(frozen=True)
class CloneLimits:
    max_bytes: int = 200 * 1024 * 1024
    max_files: int = 20_000
    timeout_seconds: float = 120.0


class HarvestError(Exception):
    code = "harvest.failed"


class RepositoryUnreachable(HarvestError):
    code = "harvest.unreachable"


class RefNotFound(HarvestError):
    code = "harvest.ref_missing"


class RepositoryTooLarge(HarvestError):
    code = "harvest.too_large"


class CloneTimeout(HarvestError):
    code = "harvest.timeout"


class BadRef(HarvestError):
    code = "harvest.bad_ref"


class GitMissing(HarvestError):
    code = "harvest.git_missing"


class GitTooOld(HarvestError):
    code = "harvest.git_too_old"


class HostNotPinnable(HarvestError):
    code = "harvest.host_not_pinnable"


@dataclass(frozen=True)
class Pin:
    """Where git's HTTP transport (curl) connects for `host`:`port`: these addresses and no others."""

    host: str
    port: int
    addresses: tuple[str, ...]

    def config(self) -> str:
        """git's `http.curloptResolve` entry (git >= 2.37), curl's HOST:PORT:ADDRESS[,ADDRESS...]."""
        listed = ",".join(f"[{address}]" if ":" in address else address for address in self.addresses)
        return f"http.curloptResolve={self.host}:{self.port}:{listed}"


def pin_for(url: str, addresses: Sequence[IPv4Address | IPv6Address]) -> Pin | None:
    """The pin that keeps git on `addresses` (those the outbound check resolved `url`'s host to), or None
    when there is nothing to pin: no addresses (private ones allowed, nothing was vetted), a host given as
    an address (nothing to resolve again), or a transport other than HTTP(S). git:// is not pinned: git
    resolves its host itself and has no resolve setting for it, so such a URL is vetted once and then
    resolved again by git (production allows https only, ESAP_GIT_SCHEMES). ssh:// never reaches a
    connection at all (ALLOWED_PROTOCOLS)."""
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if not addresses or default_port is None or _is_address(host):
        return None
    if not host.isascii():
        # curl looks pins up under the name's IDNA 2008 (xn--) form, which Python cannot be trusted to spell
        # alike (ß, ς): a pin under another spelling would be passed over and the name resolved again.
        raise HostNotPinnable(f"the host name {host!r} is not ASCII: register the URL with its xn-- form")
    return Pin(host=host, port=parts.port or default_port, addresses=tuple(str(a) for a in addresses))


def _is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def fetch_commit(url: str, ref: str, destination: Path, limits: CloneLimits = CloneLimits(),
                 pin: Pin | None = None) -> str:
    """Check out `ref` (branch, tag or commit SHA) of `url` into `destination`; return the commit SHA.
    With `pin`, git's HTTP transport connects to the pinned addresses only."""
    _check_ref(ref)
    if pin and not git_can_pin():
        raise GitTooOld(f"git {dotted(git_version())} on the worker cannot be kept on the checked address "
                        f"(http.curloptResolve needs git {dotted(PINNING_GIT)} or later, and older git ignores "
                        "it): upgrade git where the worker runs")
    destination.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + limits.timeout_seconds
    _git(["init", "--quiet"], destination, deadline, limits)
    _git(["fetch", "--quiet", "--depth", "1", "--no-tags", "--", url, ref], destination, deadline, limits,
         config=[pin.config()] if pin else [])
    _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], destination, deadline, limits)
    _check_size(destination, limits)
    return _git(["rev-parse", "HEAD"], destination, deadline, limits).strip()


@cache
def git_version() -> tuple[int, ...] | None:
    """The worker's git version, (2, 39, 5); None without git or an answer this cannot read."""
    try:
        answer = subprocess.run(["git", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", answer)
    return tuple(int(part) for part in found.groups() if part is not None) if found else None


def dotted(version: tuple[int, ...] | None) -> str:
    return ".".join(map(str, version or ()))


def git_can_pin() -> bool:
    version = git_version()
    return version is not None and version[:2] >= PINNING_GIT


def _check_ref(ref: str) -> None:
    if not ref or _BAD_REF.search(ref):
        raise BadRef(f"the ref {ref!r} is not a branch, tag or commit name git accepts")


def _git(args: list[str], cwd: Path, deadline: float, limits: CloneLimits, config: Sequence[str] = ()) -> str:
    process = _start(["git", *(part for item in [*CONFIG, *config] for part in ("-c", item)), *args], cwd)
    watcher = _SizeWatcher(process, cwd, limits.max_bytes)
    watcher.start()
    try:
        out, err = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _stop(process)
        raise CloneTimeout(f"git {args[0]} took longer than {limits.timeout_seconds:.0f} seconds") from None
    finally:
        watcher.stop()
    if watcher.exceeded:
        raise RepositoryTooLarge(f"the repository is larger than {limits.max_bytes} bytes")
    if process.returncode != 0:
        raise _classify(args[0], err)
    return out


def _start(command: list[str], cwd: Path) -> subprocess.Popen:
    # A session of its own, so that a limit stops git's helpers (git-remote-http, fetch-pack, index-pack)
    # with it: killed alone, git leaves them transferring and holding its output pipes open.
    try:
        return subprocess.Popen(command, cwd=cwd, env=_environment(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    except FileNotFoundError:
        raise GitMissing("git is not installed on the worker (no git on its PATH)") from None
    except OSError as error:
        raise GitMissing(f"git could not be started on the worker ({error})") from None


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(process: subprocess.Popen) -> None:
    """Kill git and its helpers and collect git, without waiting on anything that escaped the group."""
    _kill_group(process)
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        for pipe in (process.stdout, process.stderr):
            if pipe:
                pipe.close()
        process.wait()


def _environment() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "SSL_CERT_FILE",
                                                        "SSL_CERT_DIR", "GIT_SSL_CAINFO"}}
    return {**keep, "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
            "GIT_LFS_SKIP_SMUDGE": "1"}


def _classify(step: str, stderr: str) -> HarvestError:
    text = " ".join(stderr.split())[:300]
    lowered = text.lower()
    if "couldn't find remote ref" in lowered or "not our ref" in lowered or "no such ref" in lowered:
        return RefNotFound(f"the ref does not exist in the repository ({text})")
    if re.search(r"returned error: 30\d", lowered):
        return RepositoryUnreachable("the repository URL redirected elsewhere and the harvester does not "
                                     f"follow redirects: register the final URL ({text})")
    if "operation too slow" in lowered:
        return CloneTimeout(f"the repository sent less than {LOW_SPEED_BYTES_PER_SECOND} bytes a second for "
                            f"{LOW_SPEED_SECONDS} seconds ({text})")
    if step == "fetch":
        return RepositoryUnreachable(f"git could not fetch from the repository ({text})")
    return HarvestError(f"git {step} failed ({text})")


def _check_size(root: Path, limits: CloneLimits) -> None:
    files = total = 0
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            files += 1
            total += path.stat().st_size
    if files > limits.max_files:
        raise RepositoryTooLarge(f"the repository has more than {limits.max_files} files")
    if total > limits.max_bytes:
        raise RepositoryTooLarge(f"the repository is larger than {limits.max_bytes} bytes")


class _SizeWatcher:
    """Kills a running fetch once what it has written passes the limit (git has no size cap of its own)."""

    def __init__(self, process: subprocess.Popen, root: Path, max_bytes: int) -> None:
        self.process, self.root, self.max_bytes = process, root, max_bytes
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            if self.process.returncode is None and _disk_usage(self.root) > self.max_bytes:
                self.exceeded = True
                _kill_group(self.process)
                return


def _disk_usage(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
