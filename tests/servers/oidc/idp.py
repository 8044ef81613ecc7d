"""A real OpenID provider on 127.0.0.1 (server.mjs on node's certified `oidc-provider`), for the suite.

Its clients' redirect URIs are compared exactly, so the ports of the portal and the hub must be known
before it starts: `TestIdP(clients=...)` takes them. No pytest here.
"""
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
INSTALL_DIR = Path(os.environ.get("ESAP_NODE_PREFIX") or ROOT / ".node") / "test-idp"


@dataclass(frozen=True)
class IdPUser:
    login: str
    password: str
    groups: tuple[str, ...] = ()

    def as_json(self) -> dict:  # the IdP's `sub` is the login
        return {"password": self.password, "groups": list(self.groups),
                "name": self.login.capitalize(), "email": f"{self.login}@example.org"}


@dataclass(frozen=True)
class IdPClient:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def as_json(self) -> dict:
        return {"client_id": self.client_id, "client_secret": self.client_secret,
                "redirect_uris": list(self.redirect_uris)}


def install() -> Path:
    """`npm ci` of the locked oidc-provider into .node/test-idp, once per lockfile (~4 s)."""
    lock = (HERE / "package-lock.json").read_bytes()
    stamp = INSTALL_DIR / ".esap-lock-sha"
    want = hashlib.sha256(lock).hexdigest()
    if not (stamp.exists() and stamp.read_text() == want and (INSTALL_DIR / "node_modules").is_dir()):
        INSTALL_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, INSTALL_DIR / name)
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel", "error"], cwd=INSTALL_DIR,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci of the test IdP failed:\n{done.stderr[-3000:]}")
        stamp.write_text(want)
    shutil.copy(HERE / "server.mjs", INSTALL_DIR / "server.mjs")  # modules resolve next to the script
    return INSTALL_DIR


class TestIdP:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, *, port: int, users: list[IdPUser], clients: list[IdPClient]) -> None:
        self.port, self.users, self.clients = port, users, clients
        self.state_dir = Path(tempfile.mkdtemp(prefix="esap-idp-"))
        self.log_path = self.state_dir / "idp.log"
        self.process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://localhost:{self.port}"

    def client(self, client_id: str) -> IdPClient:
        return next(client for client in self.clients if client.client_id == client_id)

    def start(self, timeout: float = 30.0) -> "TestIdP":
        folder = install()
        environment = {**os.environ, "ISSUER": self.issuer, "PORT": str(self.port),
                       "USERS_JSON": json.dumps({user.login: user.as_json() for user in self.users}),
                       "CLIENTS_JSON": json.dumps([client.as_json() for client in self.clients])}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(["node", "server.mjs"], cwd=folder, env=environment, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self._wait_until_up(timeout)
        return self

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                discovery = requests.get(f"http://127.0.0.1:{self.port}/.well-known/openid-configuration",
                                         timeout=(1, 2))
                if discovery.status_code == 200 and discovery.json()["issuer"] == self.issuer:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"The test IdP did not come up; its log:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
