"""A real JupyterHub on 127.0.0.1, started as a subprocess from its own virtual environment.

Used by the pytest fixture (once per run) and by the demo (`python -m tests.servers.jupyterhub.localhub`).
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

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
HUB_VENV = Path(os.environ.get("ESAP_HUB_VENV", ROOT / ".venv-hub"))
PROXY = Path(os.environ.get("ESAP_NODE_PREFIX", ROOT / ".node")) / "node_modules" / ".bin" / "configurable-http-proxy"
USER_PASSWORD = "esap-demo-password"


class LocalHub:
    def __init__(self, *, port_base: int | None = None, service_token: str | None = None,
                 state_dir: Path | None = None, http_timeout: int = 30, start_timeout: int = 60) -> None:
        self.port_base = port_base or free_port_block()
        self.service_token = service_token or secrets.token_hex(32)
        self.weak_token = secrets.token_hex(32)
        self.user_password = USER_PASSWORD
        self.http_timeout, self.start_timeout = http_timeout, start_timeout
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="esaphub-"))
        self.log_path = self.state_dir / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port_base}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/hub/api"

    def start(self, timeout: float = 90.0) -> "LocalHub":
        if not (HUB_VENV / "bin" / "jupyterhub").exists() or not PROXY.exists():
            raise RuntimeError(f"No hub installation: run {HERE / 'install.sh'} first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(HUB_VENV / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
            cwd=self.state_dir, env=self._environment(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_up(timeout)
        return self

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "ESAP_HUB_STATE_DIR": str(self.state_dir),
            "ESAP_HUB_PORT_BASE": str(self.port_base),
            "ESAP_HUB_SERVICE_TOKEN": self.service_token,
            "ESAP_HUB_WEAK_TOKEN": self.weak_token,
            "ESAP_HUB_PROXY_CMD": str(PROXY),
            "ESAP_HUB_VENV_BIN": str(HUB_VENV / "bin"),
            "ESAP_HUB_USER_PASSWORD": self.user_password,
            "ESAP_HUB_HTTP_TIMEOUT": str(self.http_timeout),
            "ESAP_HUB_START_TIMEOUT": str(self.start_timeout),
        }

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited at start:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.api_url}/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"JupyterHub not answering after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._kill_leftovers()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        """Single-user servers run in their home under the state dir: kill by PID whatever still does."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if cwd.startswith(str(self.state_dir)):
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                except OSError:
                    pass

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port_block(size: int = 100) -> int:
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
    parser.add_argument("--port-base", type=int, default=8100)
    parser.add_argument("--token", required=True, help="the portal's service token")
    parser.add_argument("--state-dir", type=Path)
    args = parser.parse_args()
    hub = LocalHub(port_base=args.port_base, service_token=args.token, state_dir=args.state_dir)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    hub.start()
    print(f"JupyterHub is up at {hub.url} (hub login password for any user: {hub.user_password})", flush=True)
    try:
        while hub.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
