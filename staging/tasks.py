"""Celery entry points: translate ids into one pipeline call, nothing more."""
from celery import shared_task

from staging.checkout import pipeline


@shared_task(acks_late=True, ignore_result=True)
def checkout_run(checkout_id: str) -> None:
    pipeline.run(checkout_id)


@shared_task(acks_late=True, ignore_result=True)
def checkout_stop_server(checkout_id: str) -> None:
    pipeline.stop_server_of_ended_launch(checkout_id)


@shared_task(ignore_result=True)
def checkout_sweep() -> int:
    """Re-enqueue checkouts whose worker vanished (lease expired mid-step)."""
    return pipeline.sweep_stale()
