"""The Celery side of a deployment: beat's schedule and the logs of workers and beat."""
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from celery.schedules import maybe_schedule
from django.conf import settings

from esap.celery import app
from staging.tasks import checkout_run
from tests.secret_watch import register_log_file
from tests.servers.worker import Worker, broker_options, test_database_url as database_of_the_tests


def first_run_after_start(entry: str, started: datetime) -> datetime:
    """When beat first sends this entry if it starts at `started` with a new schedule file, as a container
    redeployed without a volume for that file does."""
    schedule = maybe_schedule(settings.CELERY_BEAT_SCHEDULE[entry]["schedule"], app=app)
    schedule.nowfun = lambda: started
    return started + schedule.remaining_estimate(started)  # a new entry's last run is its start


def test_the_daily_event_pruning_runs_though_beat_is_restarted_more_often_than_daily():
    first = datetime(2026, 11, 30, 0, 5, tzinfo=timezone.utc)
    starts = [first + timedelta(hours=12) * n for n in range(7)]  # redeployed twice a day for three days

    runs = [run for start, next_start in zip(starts, starts[1:])
            if (run := first_run_after_start("prune-checkout-events", start)) < next_start]

    assert [(run.day, run.hour) for run in runs] == [(30, 3), (1, 3), (2, 3)]


@pytest.fixture
def start_worker(django_db_setup, tmp_path) -> Iterator:
    """Starts a worker (with beat) of its own under extra environment variables, on a broker folder of its
    own; the suite's worker never sees its tasks."""
    started = []

    def start(**environ: str) -> Worker:
        folder = tmp_path / f"broker-{len(started)}"
        worker = Worker(database=database_of_the_tests(), broker_folder=folder, concurrency=1,
                        log_path=tmp_path / f"{folder.name}.log",
                        env={"ESAP_BROKER_URL": "localfs://", **environ})
        register_log_file(worker.log_path)
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop()


def run_on(worker: Worker, checkout_id: str) -> str:
    """The checkout pipeline's task for an unknown checkout (it logs that it leaves it alone); its task id."""
    options = broker_options(worker.broker_folder)
    with app.connection_for_write("localfs://", transport_options=options) as connection:
        return checkout_run.apply_async(args=[checkout_id], connection=connection).id


def log_lines_once(worker: Worker, text: str, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = Path(worker.log_path).read_text(errors="replace").splitlines()
        if any(text in line for line in lines):
            return lines
        time.sleep(0.1)
    raise AssertionError(f"no log line with {text!r} after {timeout} s:\n{worker.log_tail()}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_the_pipeline_as_json_when_told(start_worker):
    worker = start_worker(ESAP_LOG_FORMAT="json")
    checkout_id = str(uuid.uuid4())

    run_on(worker, checkout_id)

    [line] = [line for line in log_lines_once(worker, checkout_id) if checkout_id in line]
    entry = json.loads(line)
    assert (entry["logger"], entry["level"]) == ("staging.checkout.pipeline", "INFO")
    assert entry["message"] == f"checkout {checkout_id}: another run holds it; leaving it alone"


@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_the_pipeline_at_its_level_and_celery_at_the_command_lines(start_worker):
    worker = start_worker(ESAP_LOG_LEVEL="WARNING")  # its command line says --loglevel INFO
    checkout_id = str(uuid.uuid4())

    task_id = run_on(worker, checkout_id)

    lines = log_lines_once(worker, f"[{task_id}] succeeded")  # Celery's own line, at INFO
    assert not [line for line in lines if "staging.checkout.pipeline" in line or checkout_id in line]
