"""Celery entry points: translate ids into one pipeline call, nothing more."""
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from staging.checkout import notify, pipeline, reconcile, retention


@shared_task(acks_late=True, ignore_result=True)
def checkout_run(checkout_id: str) -> None:
    pipeline.run(checkout_id)


@shared_task(acks_late=True, ignore_result=True)
def checkout_stop_server(checkout_id: str) -> None:
    pipeline.stop_server_of_ended_launch(checkout_id)


# A mail server that is down or says "later" is tried again after 1, 2, 4, 8 minutes, then every 10
# (a countdown stays below the broker's visibility timeout); after the last try the checkout says so.
@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=6)
def checkout_announce_end(self, checkout_id: str) -> None:
    try:
        notify.announce_end(checkout_id)
    except notify.MailNotYet as error:
        if self.request.retries >= self.max_retries:
            notify.record_not_emailed(checkout_id, error)
            return
        raise self.retry(countdown=min(600, 60 * 2 ** self.request.retries)) from error


@shared_task(ignore_result=True)
def checkout_sweep() -> int:
    """Re-enqueue checkouts whose worker vanished (lease expired mid-step)."""
    return pipeline.sweep_stale()


@shared_task(ignore_result=True)
def checkout_events_prune() -> int:
    days = settings.ESAP_EVENT_RETENTION_DAYS
    return retention.prune_checkout_events(older_than=timedelta(days=days)) if days > 0 else 0


@shared_task(ignore_result=True)
def checkout_reconcile() -> int:
    """Ready launches whose server the facility stopped become stopped."""
    return reconcile.reconcile_ready_launches()
