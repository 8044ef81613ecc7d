"""A real Git server for the suite: `git daemon` on 127.0.0.1 serving repositories the tests create and
add commits to."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers.stack import free_port

GIT_ENV = {"GIT_AUTHOR_NAME": "esap tests", "GIT_AUTHOR_EMAIL": "tests@example.org",
           "GIT_COMMITTER_NAME": "esap tests", "GIT_COMMITTER_EMAIL": "tests@example.org",
           "GIT_CONFIG_NOSYSTEM": "1"}


class GitServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="esap-git-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> "GitServer":
        self.process = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--informative-errors", "--listen=127.0.0.1",
             f"--port={self.port}", f"--base-path={self.root}", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("git daemon did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def commit(self, name: str, files: dict[str, str | bytes | dict], message: str = "update") -> str:
        """Write the files (a dict is written as notebook JSON) into repository `name` and commit them."""
        repository = self.root / name
        if not (repository / ".git").exists():
            repository.mkdir(parents=True)
            self._git(repository, "init", "--quiet", "--initial-branch=main")
            self._git(repository, "config", "uploadpack.allowAnySHA1InWant", "true")
        for path, content in files.items():
            target = repository / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, dict):
                content = json.dumps(content, indent=1)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        self._git(repository, "add", "--all")
        self._git(repository, "commit", "--quiet", "--allow-empty", "-m", message)
        return self._git(repository, "rev-parse", "HEAD").strip()

    def _git(self, repository: Path, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=repository, env={**os.environ, **GIT_ENV}, check=True,
                              capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def git_server():
    server = GitServer().start()
    yield server
    server.stop()
