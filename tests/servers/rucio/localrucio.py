"""A real Rucio server on 127.0.0.1: the stock REST app under gunicorn on a private PostgreSQL cluster,
with Rucio's own transfer daemons in one driver process (driver.py), all from the server's venv
(install.sh). Used by the pytest fixture (once per run) and the benchmark; no pytest here.

Bootstrap: schema and root account, scope `portal`, two posix RSEs on local folders (SITE_A holds the
data, FACILITY_B is the facility's storage) with a distance both ways, the portal's own account `esap`
(userpass, unlimited quota) and an account `tight` whose quota on FACILITY_B is one byte.
"""
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from hashlib import md5
from pathlib import Path

import requests

from tests.servers.stack import PostgreSQL, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
VENV = Path(os.environ.get("ESAP_RUCIO_VENV") or ROOT / ".venv-rucio")
INSTALL = HERE / "install.sh"
SCOPE, SOURCE_RSE, FACILITY_RSE = "portal", "SITE_A", "FACILITY_B"
PORTAL_ACCOUNT, TIGHT_ACCOUNT = "esap", "tight"
ROOT_LOGIN = "ddmlab"


@dataclass(frozen=True)
class Login:
    account: str
    username: str
    password: str


class LocalRucio:
    """`start()` returns once `/ping` answers and the RSEs exist; `stop()` leaves nothing behind."""

    def __init__(self, *, driver_interval: float = 1.0) -> None:
        self.port = free_port()
        self.state_dir = Path(tempfile.mkdtemp(prefix="esap-rucio-"))
        self.rse_root = self.state_dir / "rse"
        self.driver_interval = driver_interval
        self.root = Login("root", ROOT_LOGIN, secrets.token_hex(12))
        self.portal = Login(PORTAL_ACCOUNT, "esap-portal", secrets.token_hex(12))
        self.tight = Login(TIGHT_ACCOUNT, "esap-tight", secrets.token_hex(12))
        self.postgres: PostgreSQL | None = None
        self.gunicorn: subprocess.Popen | None = None
        self.driver: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rse_prefix(self, rse: str) -> Path:
        return self.rse_root / rse

    def log(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def start(self) -> "LocalRucio":
        if not (VENV / "bin" / "gunicorn").exists():
            raise RuntimeError(f"the Rucio server is not installed: run `bash {INSTALL}` first")
        try:
            self._timed("postgres", self._start_postgres)
            self._write_config()
            self._timed("schema", self._build_schema)
            self._timed("gunicorn", self._start_gunicorn)
            self._timed("driver", self._start_driver)
            self._timed("bootstrap", self._bootstrap)
        except BaseException:
            self.stop()
            raise
        return self

    def _timed(self, name: str, step) -> None:
        started = time.monotonic()
        step()
        self.timings[name] = round(time.monotonic() - started, 2)

    def _start_postgres(self) -> None:
        self.postgres = PostgreSQL().start()

    def _write_config(self) -> None:
        db = self.postgres.url.replace("postgresql://", "postgresql+psycopg://")
        site_packages = next((VENV / "lib").glob("python3*/site-packages"))
        (self.state_dir / "logs").mkdir()
        (self.state_dir / "rucio.cfg").write_text(SERVER_CONFIG.format(
            state=self.state_dir, db=db, root=self.root, cache_port=free_port()))
        (self.state_dir / "alembic.ini").write_text(ALEMBIC_INI.format(
            migrations=site_packages / "rucio/db/sqla/migrate_repo", db=db))
        (self.state_dir / "gunicorn.conf.py").write_text(
            "workers = 2\ntimeout = 120\ngraceful_timeout = 3\ncontrol_socket_disable = True\n")

    def _server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in {"RUCIO_HOME", "VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE"}}
        return {**env, "RUCIO_CONFIG": str(self.state_dir / "rucio.cfg"), "VIRTUAL_ENV": str(VENV)}

    def _build_schema(self) -> None:
        script = ("from rucio.db.sqla.util import build_database, create_base_vo, create_root_account\n"
                  "build_database(); create_base_vo(); create_root_account()")
        done = subprocess.run([str(VENV / "bin/python"), "-c", script], env=self._server_env(),
                              capture_output=True, text=True, cwd=self.state_dir)
        if done.returncode != 0:
            raise RuntimeError(f"Rucio schema creation failed:\n{done.stderr[-3000:]}")

    def _start_gunicorn(self, timeout: float = 60) -> None:
        with self.log("gunicorn").open("ab") as log:
            self.gunicorn = subprocess.Popen(
                [str(VENV / "bin/gunicorn"), "-c", str(self.state_dir / "gunicorn.conf.py"),
                 "--bind", f"127.0.0.1:{self.port}", "rucio.web.rest.flaskapi.v1.main:application"],
                env=self._server_env(), cwd=self.state_dir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start; see {self.log('gunicorn')}")
            try:
                if requests.get(f"{self.url}/ping", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Rucio did not answer /ping within {timeout} s; see {self.log('gunicorn')}")

    def _start_driver(self) -> None:
        env = {**self._server_env(), "ESAP_RUCIO_DRIVER_INTERVAL": str(self.driver_interval)}
        with self.log("driver").open("ab") as log:
            self.driver = subprocess.Popen([str(VENV / "bin/python"), str(HERE / "driver.py")], env=env,
                                           cwd=self.state_dir, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)

    def client(self, login: Login | None = None, **options):
        """A rucio-clients Client (from the portal's venv) logged in as `login` (default: root), with its
        token cache inside the state dir."""
        from tests.servers.rucio.clients import client_for
        return client_for(self, login or self.root, **options)

    def _bootstrap(self) -> None:
        admin = self.client()
        admin.add_scope("root", SCOPE)
        for rse in (SOURCE_RSE, FACILITY_RSE):
            self._add_posix_rse(admin, rse)
        admin.add_distance(SOURCE_RSE, FACILITY_RSE, {"distance": 1})
        admin.add_distance(FACILITY_RSE, SOURCE_RSE, {"distance": 1})
        for login in (self.root, self.portal, self.tight):
            if login is not self.root:
                admin.add_account(login.account, "USER", f"{login.account}@example.org")
                admin.add_identity(login.account, login.username, "USERPASS", f"{login.account}@example.org",
                                   default=True, password=login.password)
            for rse in (SOURCE_RSE, FACILITY_RSE):
                admin.set_local_account_limit(login.account, rse, 1 if login is self.tight and
                                              rse == FACILITY_RSE else -1)

    def _add_posix_rse(self, admin, rse: str) -> None:
        prefix = self.rse_prefix(rse)
        prefix.mkdir(parents=True)
        admin.add_rse(rse)
        domains = {"lan": {"read": 1, "write": 1, "delete": 1},
                   "wan": {"read": 1, "write": 1, "delete": 1, "third_party_copy_read": 1,
                           "third_party_copy_write": 1}}
        admin.add_protocol(rse, {"scheme": "file", "impl": "rucio.rse.protocols.posix.Default",
                                 "prefix": f"{prefix}/", "hostname": "", "port": 0, "domains": domains})

    def add_dataset(self, name: str, files: dict[str, bytes], *, rse: str = SOURCE_RSE,
                    metadata: dict[str, str] | None = None) -> list[str]:
        """A dataset `portal:<name>` whose files (name → content) are on `rse`: the bytes are written at
        the RSE's deterministic path and registered as replicas (what an upload does, in bulk)."""
        admin = self.client()
        replicas = []
        for file_name, content in files.items():
            path = self.rse_prefix(rse) / self.lfn2pfn(file_name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            replicas.append({"scope": SCOPE, "name": file_name, "bytes": len(content),
                             "adler32": f"{zlib.adler32(content) & 0xffffffff:08x}",
                             "md5": md5(content).hexdigest()})
        admin.add_replicas(rse, replicas)
        admin.add_dataset(SCOPE, name)
        admin.attach_dids(SCOPE, name, [{"scope": SCOPE, "name": r["name"]} for r in replicas])
        for key, value in (metadata or {}).items():
            admin.set_metadata(SCOPE, name, key, value)
        return [r["name"] for r in replicas]

    @staticmethod
    def lfn2pfn(name: str, scope: str = SCOPE) -> str:
        """Rucio's `hash` algorithm: <scope>/<md5[0:2]>/<md5[2:4]>/<name>."""
        digest = md5(f"{scope}:{name}".encode()).hexdigest()
        return f"{scope}/{digest[:2]}/{digest[2:4]}/{name}"

    def stop(self) -> None:
        for process in (self.driver, self.gunicorn):
            _terminate(process)
        if self.postgres:
            self.postgres.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _terminate(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def is_installed() -> bool:
    return (VENV / "bin" / "gunicorn").exists()


SERVER_CONFIG = """\
[common]
logdir = {state}/logs
loglevel = INFO

[database]
default = {db}
schema = rucio
pool_size = 10
max_overflow = 10
pool_recycle = 3600
pool_reset_on_return = rollback
echo = 0

[alembic]
cfg = {state}/alembic.ini

[bootstrap]
userpass_identity = {root.username}
userpass_pwd = {root.password}
userpass_email = root@example.org

[policy]
permission = generic
schema = generic
lfn2pfn_algorithm_default = hash
support = root@example.org
support_rucio = https://github.com/rucio/rucio/issues/

[conveyor]
transfertool = mock
scheme = file,mock

[cache]
url = 127.0.0.1:{cache_port}
"""

ALEMBIC_INI = """\
[alembic]
script_location = {migrations}
sqlalchemy.url = {db}
version_table_schema = rucio

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""
