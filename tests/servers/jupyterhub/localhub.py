"""A real JupyterHub on 127.0.0.1, started as a subprocess from its own virtual environment.

Used by the pytest fixture (once per run), the benchmarks, and the demo:
    python -m tests.servers.jupyterhub.localhub --port-base 8100 --token <service token>
No pytest here.
"""
import argparse
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import FrameType

import requests

from facilities.hub.roles import PORTAL_SCOPES, PORTAL_SCOPES_WITHOUT_USER_CREATION

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
HUB_VENV = Path(os.environ.get("ESAP_HUB_VENV") or ROOT / ".venv-hub")
NODE_PREFIX = Path(os.environ.get("ESAP_NODE_PREFIX") or ROOT / ".node")
PROXY = NODE_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
INSTALL = HERE / "install.sh"
DEFAULT_USER_PASSWORD = "esap-demo-password"
BLOCK = 100  # ports per hub: base, +1, +2, servers at +10..+99
# Room for "<runtime dir>/<10-char key>/kernel-<uuid>-ipc-N" inside a Unix socket path (108 bytes).
MAX_RUNTIME_ROOT = 48


class LocalHub:
    """One hub: `start()` returns once `GET /hub/api/` answers; `stop()` leaves nothing behind."""

    def __init__(self, *, port_base: int | None = None, service_token: str | None = None,
                 state_dir: Path | None = None, http_timeout: int = 60, start_timeout: int = 60,
                 slow_spawn_timeout: float = 0, concurrent_spawn_limit: int = 50,
                 oidc: dict[str, str] | None = None) -> None:
        env_base = os.environ.get("ESAP_HUB_PORT_BASE")
        self._fixed_port = port_base is not None or bool(env_base)
        self.port_base = port_base or (int(env_base) if env_base else free_port_block())
        self.service_token = service_token or secrets.token_hex(32)
        self.weak_token = secrets.token_hex(32)  # a service holding only read:hub
        self.no_create_token = secrets.token_hex(32)  # the documented role for hubs that create users
        self.user_password = os.environ.get("ESAP_HUB_USER_PASSWORD") or DEFAULT_USER_PASSWORD
        self.settings = {"ESAP_HUB_HTTP_TIMEOUT": str(http_timeout), "ESAP_HUB_START_TIMEOUT": str(start_timeout),
                         "ESAP_HUB_SLOW_SPAWN_TIMEOUT": str(slow_spawn_timeout),
                         "ESAP_HUB_CONCURRENT_SPAWN_LIMIT": str(concurrent_spawn_limit)}
        self.oidc = oidc  # {"issuer", "client_id", "client_secret"}: users log in through that IdP
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="esaphub-")).resolve()
        self.runtime_dir = _runtime_root(self.state_dir)
        self.log_path = self.state_dir / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"LocalHub({self.url!r}, state_dir={str(self.state_dir)!r})"

    @property
    def url(self) -> str:
        """The public (proxy) URL: /hub/..., /user/<name>/<server>/..."""
        return f"http://127.0.0.1:{self.port_base}"

    @property
    def public_url(self) -> str:
        """The URL a browser uses: `localhost`, the host name the IdP redirects back to (cookies are per
        host, so the whole single sign-on must stay on one name)."""
        return f"http://localhost:{self.port_base}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/hub/api"

    def start(self, timeout: float = 60.0) -> "LocalHub":
        if not is_installed():
            raise RuntimeError(f"JupyterHub is not installed: run `bash {INSTALL}` first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            self._launch()
            if self._wait_until_up(timeout):
                return self
            tail = self.log_tail()
            self._terminate()
            if self._fixed_port or not any(s in tail for s in ("Address already in use", "EADDRINUSE")):
                break
            self.port_base = free_port_block()  # someone took a port of our block meanwhile
        self.stop()
        raise RuntimeError(f"JupyterHub did not come up at {self.url}; its log ends with:\n{tail}")

    def _launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(HUB_VENV / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
                cwd=self.state_dir, env=self._environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def _environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items()
                     if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"}}
        return {
            **inherited,
            "VIRTUAL_ENV": str(HUB_VENV),
            "ESAP_HUB_STATE_DIR": str(self.state_dir),
            "ESAP_HUB_PORT_BASE": str(self.port_base),
            "ESAP_HUB_SERVICE_TOKEN": self.service_token,
            "ESAP_HUB_WEAK_TOKEN": self.weak_token,
            "ESAP_HUB_PORTAL_SCOPES": " ".join(PORTAL_SCOPES),
            "ESAP_HUB_NO_CREATE_TOKEN": self.no_create_token,
            "ESAP_HUB_NO_CREATE_SCOPES": " ".join(PORTAL_SCOPES_WITHOUT_USER_CREATION),
            "ESAP_HUB_PROXY_CMD": str(PROXY),
            "ESAP_HUB_VENV_BIN": str(HUB_VENV / "bin"),
            "ESAP_HUB_RUNTIME_DIR": str(self.runtime_dir),
            "ESAP_HUB_USER_PASSWORD": self.user_password,
            **self.settings,
            **self._oidc_environment(),
        }

    def _oidc_environment(self) -> dict[str, str]:
        if not self.oidc:
            return {}
        return {"ESAP_HUB_OIDC_ISSUER": self.oidc["issuer"], "ESAP_HUB_OIDC_CLIENT_ID": self.oidc["client_id"],
                "ESAP_HUB_OIDC_CLIENT_SECRET": self.oidc["client_secret"], "ESAP_HUB_PUBLIC_URL": self.public_url}

    def _wait_until_up(self, timeout: float) -> bool:
        """True once the hub answers; False if its process exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if requests.get(f"{self.api_url}/", timeout=(1, 2)).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM (the hub then stops its servers and the proxy), SIGKILL after 30 s, then kill by PID
        whatever still runs inside the state dir, and remove what we created."""
        self._terminate()
        if self.runtime_dir != self.state_dir / "rt":
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _terminate(self) -> None:
        if self.process and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        kill_processes_under(self.state_dir)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def is_installed() -> bool:
    return (HUB_VENV / "bin" / "jupyterhub").exists() and PROXY.exists()


def kill_processes_under(directory: Path) -> list[int]:
    """SIGKILL, by PID, every process of ours whose working directory is inside `directory` (servers,
    kernels and the proxy run there): a safety net after a crash. Never by name."""
    inside, killed = str(directory.resolve()), []
    if Path.cwd().resolve().is_relative_to(inside):
        raise ValueError(f"refusing to kill processes under {inside}: it holds our own working directory")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
        except OSError:
            continue  # gone, or not ours to look at
        if cwd == inside or cwd.startswith(inside + os.sep):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except OSError:
                pass
    return killed


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def _runtime_root(state_dir: Path) -> Path:
    """<state>/rt when short enough for socket paths, else a fresh short dir under /tmp."""
    if len(str(state_dir / "rt")) <= MAX_RUNTIME_ROOT:
        return state_dir / "rt"
    return Path(tempfile.mkdtemp(prefix="esaprt-", dir="/tmp"))


def free_port_block(size: int = BLOCK) -> int:
    """A base port whose block is free now (the hub, its API, proxy API, servers), chosen below Linux's
    ephemeral range (32768+) so that the random ports kernels and clients bind cannot land in it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - size, size)
        if all(_is_free(port) for port in range(base, base + size)):
            return base
    raise RuntimeError("No free block of ports on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local JupyterHub of the demo in the foreground.")
    parser.add_argument("--port-base", type=int, help="first port of the block (default: a free block)")
    parser.add_argument("--token", required=True, help="the portal's service token")
    parser.add_argument("--state-dir", type=Path, help="kept between runs (default: a temporary dir)")
    args = parser.parse_args()
    hub = LocalHub(port_base=args.port_base, service_token=args.token, state_dir=args.state_dir)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        hub.start()
        print(f"JupyterHub is up at {hub.url} (log: {hub.log_path}); any user name logs in with the "
              f"password {hub.user_password!r}", flush=True)
        while hub.process.poll() is None:
            time.sleep(0.5)
        print(f"JupyterHub exited with status {hub.process.returncode}:\n{hub.log_tail()}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the cleanup finish
        hub.stop()


if __name__ == "__main__":
    main()
