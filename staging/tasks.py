"""Celery entry points: translate ids into one pipeline call, nothing more."""
from celery import shared_task

from staging.checkout import notify, pipeline


@shared_task(acks_late=True, ignore_result=True)
def checkout_run(checkout_id: str) -> None:
    pipeline.run(checkout_id)


@shared_task(acks_late=True, ignore_result=True)
def checkout_stop_server(checkout_id: str) -> None:
    pipeline.stop_server_of_ended_launch(checkout_id)


# A mail server that is down or refuses for a while (OSError covers smtplib's errors) is tried again
# later: about 30 s, 1, 2, 4 ... minutes, six times.
@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=6)
def checkout_announce_end(checkout_id: str) -> None:
    notify.announce_end(checkout_id)


@shared_task(ignore_result=True)
def checkout_sweep() -> int:
    """Re-enqueue checkouts whose worker vanished (lease expired mid-step)."""
    return pipeline.sweep_stale()
