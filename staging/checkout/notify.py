"""Telling users by e-mail that a launch they stopped watching has ended: ready (with the notebook's
link) or failed (with the reason and the page to retry from). Sent from a task of its own, never from
a step, so that a mail server's trouble cannot touch the launch.

At most once per end: the end is claimed on the row before the mail is handed to the server, and given
back only when the server took nothing (it could not be reached, or asked us to come back later)."""
import logging
import smtplib
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from esap.account import mail_is_sent, may_email
from staging.checkout import machine
from staging.checkout.services import retry_refusal
from staging.checkout.states import State
from staging.models import Checkout

log = logging.getLogger(__name__)
TOLD = frozenset({State.READY, State.FAILED})


class MailNotYet(Exception):
    """The mail server could not take the mail now (down, or a 4xx answer): try again later."""


def announce_end(checkout_id) -> str:
    """"sent", or why no e-mail was due. MailNotYet when a later try may succeed."""
    checkout = Checkout.objects.select_related("user").get(pk=checkout_id)
    if not mail_is_sent():
        return "mail off"
    if checkout.state not in TOLD or checkout.finished_at is None:
        return "not ended"
    if not may_email(checkout.user):
        return "not wanted or no verified address"
    launched_at = checkout.launched_at or checkout.created_at
    took = (checkout.finished_at - launched_at).total_seconds()
    if took < settings.ESAP_NOTIFY_AFTER_SECONDS:
        return "quick"  # the user was most likely still watching the page
    if not _claim(checkout, checkout.finished_at):
        return "already sent"  # or the launch moved on (a retry) since this end
    try:
        _send(*_message(checkout, took), to=checkout.user.email)
    except MailNotYet:
        Checkout.objects.filter(pk=checkout.pk, announced_end=checkout.finished_at).update(announced_end=None)
        raise
    except (smtplib.SMTPException, OSError, ValueError) as error:  # refused for good: a retry changes nothing
        record_not_emailed(checkout.pk, error)
        return "refused"
    machine.record(checkout.pk, phase=State(checkout.state), message="E-mailed you.",
                   data={"emailed": checkout.state, "end": checkout.finished_at.isoformat()})
    return "sent"


def record_not_emailed(checkout_id, error: Exception) -> None:
    log.warning("checkout %s: not e-mailed: %s", checkout_id, _reason(error))
    checkout = Checkout.objects.get(pk=checkout_id)
    machine.record(checkout.pk, phase=State(checkout.state), message=f"Could not e-mail you: {_reason(error)}",
                   data={"emailed": False})


def _claim(checkout: Checkout, end: datetime) -> bool:
    """This end, still the launch's current one, is ours to tell (compare-and-set on the row)."""
    return bool(Checkout.objects.filter(pk=checkout.pk, state=checkout.state, finished_at=end)
                .exclude(announced_end=end).update(announced_end=end))


def _send(subject: str, body: str, *, to: str) -> None:
    connection = get_connection()
    try:
        connection.open()
        connection.send_messages([EmailMessage(subject, body, None, [to])])
    except (ConnectionError, TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as error:
        raise MailNotYet(_reason(error)) from error
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
        if _temporary(error):
            raise MailNotYet(_reason(error)) from error
        raise
    finally:
        try:
            connection.close()
        except OSError:
            pass  # the server took the mail; a broken goodbye does not unsend it


def _temporary(error: smtplib.SMTPException) -> bool:
    codes = ([code for code, _ in error.recipients.values()] if isinstance(error, smtplib.SMTPRecipientsRefused)
             else [error.smtp_code])
    return all(400 <= code < 500 for code in codes)


def _reason(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(_said(code, text) for code, text in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return _said(error.smtp_code, error.smtp_error)
    return str(error) or type(error).__name__


def _said(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _message(checkout: Checkout, took: float) -> tuple[str, str]:
    # One line: Django refuses a header with a newline, and that mail would be lost rather than retried.
    title = " ".join(checkout.workflow_title.split())[:120]
    ready = checkout.state == State.READY
    refusal = None if ready else retry_refusal(checkout)
    subject = f"{'Your notebook is ready' if ready else 'Your launch failed'}: {title}"
    body = render_to_string("email/launch_ended.txt", {
        "checkout": checkout, "title": title, "ready": ready, "minutes": max(1, round(took / 60)),
        "retry_refused": refusal.message if refusal else "",
        "page": settings.ESAP_PUBLIC_URL + reverse("checkout-detail", args=[checkout.pk]),
        "settings_page": settings.ESAP_PUBLIC_URL + reverse("account-tokens"),
    })
    return subject, body
