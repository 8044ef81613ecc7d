"""A real Celery worker for the suite: a subprocess on the test database, fed through a private
filesystem broker folder. One per session; tests that kill it call `restart()`."""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.secret_watch import register_log_file

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://esap.test"  # where the worker's e-mails say the portal is


def broker_options(folder: Path) -> dict:
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {"control_folder": str(folder / "control"), "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "store_processed": False, "polling_interval": 0.1}


class Worker:
    def __init__(self, *, database: str, broker_folder: Path, log_path: Path, env: dict[str, str],
                 concurrency: int = 8) -> None:
        self.database, self.broker_folder, self.log_path = database, broker_folder, log_path
        self.concurrency = concurrency
        self.extra_env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, **self.extra_env,
               "DJANGO_SETTINGS_MODULE": "esap.settings",
               "ESAP_DATABASE_URL": self.database,
               "ESAP_BROKER_FOLDER": str(self.broker_folder),
               "PYTHONUNBUFFERED": "1"}
        log = self.log_path.open("ab")
        self._log_start = self.log_path.stat().st_size  # a restart appends: wait for its own "ready."
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "esap", "worker", "--pool", "threads",
             "--concurrency", str(self.concurrency),
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--beat", "--schedule", str(self.broker_folder / "beat-schedule")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Celery worker exited at start:\n{self.log_tail()}")
            if b"ready." in self.log_path.read_bytes()[self._log_start:]:
                return
            time.sleep(0.1)
        raise RuntimeError(f"Celery worker not ready after {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory killer or a lost machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def test_database_url() -> str:
    """The database the tests run on (after pytest-django created it), as a URL for the worker."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, mail_server):
    from django.conf import settings

    from esap.celery import app

    folder = Path(tempfile.mkdtemp(prefix="esap-broker-"))
    if settings.CELERY_BROKER_URL.startswith("localfs://"):
        app.conf.broker_transport_options = broker_options(folder)  # a queue of this run's own
    else:
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    worker = Worker(
        database=test_database_url(), broker_folder=folder,
        log_path=folder / "worker.log",
        env={"ESAP_CHECKOUT_LEASE_SECONDS": "4", "ESAP_SWEEP_SECONDS": "2",
             "ESAP_ALLOW_PRIVATE_URLS": "true", "ESAP_GIT_ALLOW_PRIVATE_URLS": "true",
             # Every replication rule is looked at once per run, then the checkout waits without a
             # worker and a later run looks again: the tests go through that hand-over every time.
             "ESAP_STAGING_WAIT_SECONDS": "0", "ESAP_STAGING_RECHECK_SECONDS": "1",
             # Every end of a launch is told by e-mail (to users who have an address) over real SMTP.
             "ESAP_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
             "ESAP_EMAIL_HOST": mail_server.host, "ESAP_EMAIL_PORT": str(mail_server.port),
             "ESAP_NOTIFY_AFTER_SECONDS": "0", "ESAP_PUBLIC_URL": PUBLIC_URL,
             # Tests cull servers on purpose; the look for culled ones runs in-process where tested.
             "ESAP_RECONCILE_SECONDS": "86400"},
    )
    register_log_file(worker.log_path)
    worker.start()
    yield worker
    worker.stop()
