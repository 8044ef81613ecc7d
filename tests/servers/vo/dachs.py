"""A real GAVO DaCHS VO server on 127.0.0.1 with its own private PostgreSQL (pgSphere, q3c), publishing the
fixture's tiny ObsCore collection (tests/servers/vo/inputs) over TAP, SIA2 and DataLink, plus a RegTAP
registry describing it.

Used by the pytest fixture (once per run) and by hand:
    python -m tests.servers.vo.dachs        (prints the base URL, stops on Ctrl-C)
As root, PostgreSQL and DaCHS run as the unprivileged system user `esapvo` (created when missing); as a
normal user they run as that user. No pytest here, and only the standard library: it also runs on
Debian's /usr/bin/python3.
"""
import argparse
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_BIN = Path(os.environ.get("ESAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's interpreter, the one DaCHS runs on (has astropy)
SERVICE_USER = "esapvo"
RESOURCES = ("vofix", "vofixrr")
AUTHORITY = "test.portal.local"


def missing() -> str:
    """Why DaCHS cannot run here, or '' when it can."""
    if not shutil.which("dachs"):
        return "GAVO DaCHS is not installed (bin/dev test installs python3-gavo as root or with sudo)"
    if not (PG_BIN / "postgres").exists():
        return f"PostgreSQL 15 server binaries not found in {PG_BIN}"
    extensions = Path("/usr/share/postgresql/15/extension")
    for name in ("pg_sphere", "q3c"):
        if not (extensions / f"{name}.control").exists():
            return f"the PostgreSQL extension {name} is not installed (postgresql-15-pgsphere/-q3c)"
    return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class VOEndpoints:
    """The fixture's service URLs, from its base `url`."""

    url: str

    @property
    def tap_url(self) -> str:
        return f"{self.url}/tap"

    @property
    def sia2_url(self) -> str:
        return f"{self.url}/__system__/siap2/sitewide/siap2.xml"

    @property
    def datalink_url(self) -> str:
        return f"{self.url}/vofix/q/dl/dlmeta"

    @property
    def registry_url(self) -> str:
        return self.tap_url  # the fixture's RegTAP tables are served by its own TAP service


class LocalDaCHS(VOEndpoints):
    """`start()` returns once `/tap/availability` answers; `stop()` stops both servers by process group
    and removes the state directory."""

    def __init__(self, *, port: int | None = None, pg_port: int | None = None,
                 start_timeout: float = 120) -> None:
        self.port, self.pg_port = port or free_port(), pg_port or free_port()
        self.start_timeout = start_timeout
        self.run_as = SERVICE_USER if os.geteuid() == 0 else None
        self.state = Path(tempfile.mkdtemp(prefix="esap-vo-"))
        self.pg_dir, self.root = self.state / "pg", self.state / "dachs"
        self.log_path = self.state / "dachs.log"
        self._postgres: subprocess.Popen | None = None
        self._dachs: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    @property
    def url(self) -> str:
        """DaCHS writes access and DataLink URLs with this host name; clients must use it too."""
        return f"http://localhost:{self.port}"

    def start(self) -> "LocalDaCHS":
        started = time.monotonic()
        try:
            self._step("prepare", self._prepare)
            self._step("postgres", self._start_postgres)
            self._step("dachs init", self._init_dachs)
            self._step("import", self._import)
            self._step("serve", self._serve)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - started
        return self

    def _step(self, name: str, action) -> None:
        began = time.monotonic()
        action()
        self.timings[name] = time.monotonic() - began

    def _prepare(self) -> None:
        if self.run_as:
            _ensure_system_user(self.run_as)
        shutil.copytree(HERE / "inputs", self.root / "inputs")
        self.pg_dir.mkdir()
        images = self.root / "inputs/vofix/data"
        self._run([SYSTEM_PYTHON, str(HERE / "make_fits.py"), str(images)], as_user=False)
        (self.root / "inputs/vofixrr/rows.json").write_text(_registry_rows(self.url))
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for path in [self.state, *self.state.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)

    def _start_postgres(self) -> None:
        data = self.pg_dir / "data"
        self._run([str(PG_BIN / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        with (self.pg_dir / "postgres.log").open("wb") as log:
            self._postgres = subprocess.Popen(
                self._as_user([str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.pg_port),
                               "-h", "127.0.0.1", "-k", str(self.pg_dir), "-c", "fsync=off",
                               "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        createdb = self._as_user(["createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", self.user,
                                  "--encoding=UTF-8", "--template", "template0", "gavo"])
        while subprocess.run(createdb, capture_output=True, check=False).returncode != 0:
            if self._postgres.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {self._tail(self.pg_dir / 'postgres.log')}")
            time.sleep(0.1)

    def _init_dachs(self) -> None:
        group = grp.getgrgid(pwd.getpwnam(self.user).pw_gid).gr_name
        (self.root / "gavo.rc").write_text(
            f"[general]\nrootDir: {self.root}\ngroup: {group}\ngavoGroup: {group}\nlogLevel: info\n\n"
            f"[web]\nbindAddress: 127.0.0.1\nserverPort: {self.port}\nserverURL: {self.url}\n"
            f"user: {self.user}\nsitename: esap VO test fixture\n\n[ivoa]\nauthority: {AUTHORITY}\n")
        self._dachs_command("init", "-d", f"host=127.0.0.1 port={self.pg_port} dbname=gavo user={self.user}")

    def _import(self) -> None:
        self._dachs_command("imp", "//obscore")
        for resource in RESOURCES:
            self._dachs_command("imp", f"{resource}/q")

    def _serve(self) -> None:
        with self.log_path.open("ab") as log:
            self._dachs = subprocess.Popen(self._as_user(["dachs", "serve", "start", "--foreground"]),
                                           cwd=self.root, env=self._env(), stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._dachs.poll() is not None:
                break
            if _answers(f"{self.tap_url}/availability"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"DaCHS did not come up at {self.url}: {self._tail(self.log_path)}")

    def stop(self) -> None:
        """SIGTERM to DaCHS's process group, PostgreSQL's fast shutdown, SIGKILL for whatever lingers
        (signals, never names: an inherited "ignore SIGINT" from a background shell cannot block this)."""
        _stop_group(self._dachs, signal.SIGTERM)
        if self._postgres and self._postgres.poll() is None:
            stop = [str(PG_BIN / "pg_ctl"), "-D", str(self.pg_dir / "data"), "-m", "fast", "-w", "-t", "30",
                    "stop"]
            subprocess.run(self._as_user(stop), capture_output=True, check=False)
        _stop_group(self._postgres, signal.SIGTERM)
        shutil.rmtree(self.state, ignore_errors=True)

    @property
    def user(self) -> str:
        return self.run_as or pwd.getpwuid(os.geteuid()).pw_name

    def _as_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *command] if self.run_as else command

    def _env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items()
                     if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"}}
        path = ":".join(p for p in inherited.get("PATH", "").split(":") if "venv" not in p)
        return {**inherited, "PATH": path or "/usr/bin:/bin", "GAVOSETTINGS": str(self.root / "gavo.rc"),
                "HOME": str(self.root)}

    def _dachs_command(self, *args: str) -> None:
        self._run(["dachs", *args])

    def _run(self, command: list[str], as_user: bool = True) -> None:
        done = subprocess.run(self._as_user(command) if as_user else command,
                              cwd=self.root if self.root.exists() else self.state, env=self._env(),
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}"
                               f"\n{done.stderr[-3000:]}")

    @staticmethod
    def _tail(path: Path, lines: int = 40) -> str:
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)


def _stop_group(process: subprocess.Popen | None, signum: int) -> None:
    if process is None or process.poll() is not None:
        return
    _signal_group(process.pid, signum)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(10)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def _registry_rows(base_url: str) -> str:
    from tests.servers.vo.registry import rows_json
    return rows_json(base_url, AUTHORITY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if reason := missing():
        raise SystemExit(reason)
    server = LocalDaCHS(port=args.port).start()
    print(f"DaCHS at {server.url} (TAP {server.tap_url}); started in {server.timings['total']:.1f} s",
          flush=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        stopping.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
