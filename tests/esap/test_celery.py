"""The Celery side of a deployment: beat's schedule and the logs of workers and beat."""
from datetime import datetime, timedelta, timezone

from celery.schedules import maybe_schedule
from django.conf import settings

from esap.celery import app


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
