"""Telling users by e-mail that a launch they stopped watching has ended: ready (with the notebook's
link) or failed (with the reason and the page to retry from). Sent from a task of its own, never from
a step, so that a mail server's trouble cannot touch the launch; once per end of a launch."""
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from esap.models import AccountSettings
from staging.checkout import machine
from staging.checkout.states import State
from staging.models import Checkout

TOLD = frozenset({State.READY, State.FAILED})


def announce_end(checkout_id) -> str:
    """"sent", or why no e-mail was due. A failure to send raises (OSError): the task retries."""
    checkout = Checkout.objects.select_related("user").get(pk=checkout_id)
    if checkout.state not in TOLD or checkout.finished_at is None:
        return "not ended"
    if _told_of(checkout, checkout.finished_at):
        return "already sent"
    if not checkout.user.email:
        return "no address"
    if not AccountSettings.of(checkout.user).email_when_launch_ends:
        return "opted out"
    took = (checkout.finished_at - _started_at(checkout)).total_seconds()
    if took < settings.ESAP_NOTIFY_AFTER_SECONDS:
        return "quick"  # the user was most likely still watching the page
    subject, body = _message(checkout, took)
    send_mail(subject, body, None, [checkout.user.email])
    machine.record(checkout.pk, phase=State(checkout.state), message=f"E-mailed {checkout.user.email}.",
                   data={"emailed": checkout.state, "end": checkout.finished_at.isoformat()})
    return "sent"


def _told_of(checkout: Checkout, end: datetime) -> bool:
    return checkout.events.filter(data__has_key="emailed", data__end=end.isoformat()).exists()


def _started_at(checkout: Checkout) -> datetime:
    """When the user last set the launch going: its creation, or the latest retry."""
    retried = checkout.events.filter(data__has_key="retry").last()
    return retried.created_at if retried else checkout.created_at


def _message(checkout: Checkout, took: float) -> tuple[str, str]:
    title = " ".join(checkout.workflow_title.split())[:120]  # one line: a header cannot take a newline
    ready = checkout.state == State.READY
    subject = f"{'Your notebook is ready' if ready else 'Your launch failed'}: {title}"
    body = render_to_string("email/launch_ended.txt", {
        "checkout": checkout, "title": title, "ready": ready, "minutes": max(1, round(took / 60)),
        "page": f"{settings.ESAP_PUBLIC_URL}/checkouts/{checkout.pk}/",
        "settings_page": f"{settings.ESAP_PUBLIC_URL}/account/tokens/",
    })
    return subject, body
