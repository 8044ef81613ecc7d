"""The production stack for the suite: a private PostgreSQL cluster and a Redis server on 127.0.0.1,
started once, with the whole pytest run executed against them.

    python -m tests.servers.stack [pytest arguments]
    python -m tests.servers.stack -- <command> [arguments]     (any command, e.g. a benchmark)

Django reads its database and broker from the environment when it starts, before any fixture could
switch them, so this wrapper starts both servers, exports ESAP_DATABASE_URL and ESAP_BROKER_URL, runs
pytest, and stops them.
"""
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("ESAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
# As a production server is set up (docker/compose.yaml too): PostgreSQL's 128 MB default is a
# placeholder, and a million-dataset catalogue with its search index does not fit in it
# (benchmarks/README.md: search at 1 M rows, 23 ms with the default, 14 ms with this).
SERVER_SETTINGS = ["-c", "shared_buffers=1GB"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start with status {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} is not listening on {port} after {timeout} s")


class PostgreSQL:
    """A throw-away cluster. As root it runs as the `postgres` system user (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        self.port, self.password = free_port(), secrets.token_hex(16)
        self.root = Path(tempfile.mkdtemp(prefix="esap-pg-"))
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://esap:{self.password}@127.0.0.1:{self.port}/esap"

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def start(self) -> "PostgreSQL":
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        data = self.root / "data"
        password_file = self.root / "pw"
        password_file.write_text(self.password)
        password_file.chmod(0o644)
        subprocess.run(self._command(str(PG_BIN / "initdb"), "-D", str(data), "-U", "esap", "-A", "scram-sha-256",
                                     f"--pwfile={password_file}", "--no-sync", "-E", "UTF8"),
                       check=True, capture_output=True)
        self.process = subprocess.Popen(
            self._command(str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1",
                          "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off",
                          "-c", "full_page_writes=off", "-c", "max_connections=200", *SERVER_SETTINGS),
            stdout=subprocess.DEVNULL, stderr=open(self.root / "postgres.log", "wb"), start_new_session=True)
        wait_for_port(self.port, self.process, "postgres")
        self._create_database()
        return self

    def _create_database(self) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        for _ in range(50):
            done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "esap", "-d", "postgres",
                                   "-c", "CREATE DATABASE esap"], env=env, capture_output=True)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"cannot create the database: {done.stderr.decode()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # fast shutdown
            self.process.wait(30)
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--protected-mode", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_for_port(self.port, self.process, "redis-server")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)


def available() -> str:
    """Why the production stack cannot run here, or '' when it can."""
    if not (PG_BIN / "postgres").exists():
        return f"PostgreSQL server binaries not found in {PG_BIN}"
    if not shutil.which("redis-server"):
        return "redis-server not found"
    return ""


def main(arguments: list[str]) -> int:
    postgres, redis = PostgreSQL(), Redis()
    try:
        postgres.start()
        redis.start()
        env = {**os.environ, "ESAP_DATABASE_URL": postgres.url, "ESAP_BROKER_URL": redis.url}
        print(f"production stack: PostgreSQL on 127.0.0.1:{postgres.port}, Redis on 127.0.0.1:{redis.port}",
              flush=True)
        command = arguments[1:] if arguments[:1] == ["--"] else [sys.executable, "-m", "pytest", *arguments]
        return subprocess.run(command, env=env).returncode
    finally:
        redis.stop()
        postgres.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
