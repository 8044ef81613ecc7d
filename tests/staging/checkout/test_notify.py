"""A launch that ends after the user stopped watching it is told by e-mail, once per end: ready with the
notebook's link, failed with the reason and the page to retry from. Sent over SMTP to the suite's real
mail server: by the real worker end to end, and in-process for the rules of when."""
import socket
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from staging.checkout.notify import announce_end
from staging.checkout.services import checkout_retry
from staging.models import Checkout, CheckoutEvent
from tests.factories import make_user
from tests.launching import eventually, launch, wait_for
from tests.servers.worker import PUBLIC_URL


def user_with_address(name: str):
    user = make_user(name)
    user.email = f"{name}@example.org"
    user.save()
    return user


def emailed(checkout: Checkout):
    return checkout.events.filter(data__has_key="emailed")


@pytest.mark.hub
@pytest.mark.django_db(transaction=True)
def test_a_ready_launch_is_told_with_the_notebooks_link(launch_env, hub_facility, mail_server):
    user = user_with_address("ada")

    checkout = wait_for(launch(user, facility=hub_facility()))

    assert checkout.state == "ready", checkout.error_message
    [mail] = mail_server.wait_for("ada@example.org")
    assert mail["Subject"] == "Your notebook is ready: Light curve summary"
    body = mail.get_content()
    assert checkout.lab_url in body and f"{PUBLIC_URL}/checkouts/{checkout.pk}/" in body
    assert "stop its server there" in body
    eventually(lambda: emailed(checkout).filter(message="E-mailed ada@example.org.").exists())


@pytest.mark.hub
@pytest.mark.django_db(transaction=True)
def test_each_failed_end_is_told_once_with_its_reason_and_the_page_to_retry_from(launch_env, hub_facility,
                                                                                   mail_server):
    user = user_with_address("bea")
    checkout = wait_for(launch(user, facility=hub_facility(), profile="exits"))
    assert checkout.state == "failed"
    [first] = mail_server.wait_for("bea@example.org")
    eventually(lambda: emailed(checkout).count() == 1)

    again = wait_for(checkout_retry(user=user, pk=checkout.pk))

    assert again.state == "failed"
    mails = mail_server.wait_for("bea@example.org", count=2)
    assert [m["Subject"] for m in mails] == ["Your launch failed: Light curve summary"] * 2
    assert "exited with status 3 during startup" in first.get_content()
    assert f"Retry from the failed step on the launch's page: {PUBLIC_URL}/checkouts/{checkout.pk}/" in (
        first.get_content())


@pytest.fixture
def smtp_settings(settings, mail_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = mail_server.host, mail_server.port
    settings.ESAP_NOTIFY_AFTER_SECONDS = 300
    return settings


def ended(user, *, took: timedelta, state: str = "ready", title: str = "Crab timing",
          retried_before_end: timedelta | None = None) -> Checkout:
    """A launch that ended now, `took` after it was created (or retried, `retried_before_end` ago)."""
    now = timezone.now()
    checkout = Checkout.objects.create(user=user, state=state, workflow_title=title, facility_slug="swan",
                                       profile_slug="small", lab_url="https://hub.example.org/user/x/lab",
                                       error_message="Cell 2 raised ValueError: bad", failed_step="executing")
    Checkout.objects.filter(pk=checkout.pk).update(created_at=now - took, finished_at=now)
    if retried_before_end is not None:
        event = CheckoutEvent.objects.create(checkout=checkout, phase="staging", message="Retrying.",
                                             data={"retry": True})
        CheckoutEvent.objects.filter(pk=event.pk).update(created_at=now - retried_before_end)
    checkout.refresh_from_db()
    return checkout


@pytest.mark.django_db
def test_a_launch_that_ended_while_the_user_was_likely_watching_is_not_told(smtp_settings, mail_server):
    user = user_with_address("cyd")

    assert announce_end(ended(user, took=timedelta(seconds=40)).pk) == "quick"
    assert announce_end(ended(user, took=timedelta(hours=2), retried_before_end=timedelta(seconds=40)).pk) == (
        "quick")  # it counts from the retry
    assert mail_server.to("cyd@example.org") == []


@pytest.mark.django_db
def test_a_long_launch_is_told_once_however_often_its_end_is_announced(smtp_settings, mail_server):
    checkout = ended(user_with_address("dan"), took=timedelta(minutes=20), state="failed")

    outcomes = [announce_end(checkout.pk), announce_end(checkout.pk)]

    assert outcomes == ["sent", "already sent"]
    [mail] = mail_server.to("dan@example.org")
    assert mail["Subject"] == "Your launch failed: Crab timing"
    assert "failed at executing, after 20 min:" in mail.get_content()
    assert "Cell 2 raised ValueError: bad" in mail.get_content()


@pytest.mark.django_db
def test_users_who_turned_the_emails_off_or_have_no_address_are_not_told(smtp_settings, mail_server):
    eve, nameless = user_with_address("eve"), make_user("fay")
    page = Client()
    page.force_login(eve)

    page.post("/account/settings/", {})  # the box unticked

    assert "checked" not in page.get("/account/tokens/").content.decode().split('id="email-when-launch-ends"')[1][:20]
    assert announce_end(ended(eve, took=timedelta(hours=1)).pk) == "opted out"
    assert announce_end(ended(nameless, took=timedelta(hours=1)).pk) == "no address"
    page.post("/account/settings/", {"email_when_launch_ends": "on"})
    assert announce_end(ended(eve, took=timedelta(hours=1)).pk) == "sent"
    assert len(mail_server.to("eve@example.org")) == 1


@pytest.mark.django_db
def test_a_mail_server_that_cannot_be_reached_raises_for_the_task_to_retry_and_marks_nothing(smtp_settings,
                                                                                          mail_server):
    checkout = ended(user_with_address("gil"), took=timedelta(hours=1))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_settings.EMAIL_PORT = probe.getsockname()[1]  # closed once the probe is

    with pytest.raises(OSError):
        announce_end(checkout.pk)
    assert not emailed(checkout).exists()

    smtp_settings.EMAIL_PORT = mail_server.port
    assert announce_end(checkout.pk) == "sent"


def test_the_task_retries_on_a_mail_server_error():
    from staging.tasks import checkout_announce_end

    assert checkout_announce_end.autoretry_for == (OSError,) and checkout_announce_end.max_retries == 6


@pytest.mark.django_db
def test_a_workflow_title_cannot_add_headers_or_recipients(smtp_settings, mail_server):
    checkout = ended(user_with_address("hal"), took=timedelta(hours=1),
                     title="Crab\r\nBcc: victim@example.org\r\nX-Evil: 1")

    assert announce_end(checkout.pk) == "sent"

    [mail] = mail_server.to("hal@example.org")
    assert mail["Subject"] == "Your notebook is ready: Crab Bcc: victim@example.org X-Evil: 1"
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail_server.to("victim@example.org") == []
