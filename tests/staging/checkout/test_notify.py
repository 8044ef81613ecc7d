"""A launch that ends after the user stopped watching it is told by e-mail, once per end: ready with the
notebook's link, failed with the reason and the page to retry from. Sent over SMTP to the suite's real
mail server: by the real worker end to end, and in-process for the rules of when."""
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from staging.checkout.notify import MailNotYet, announce_end
from staging.checkout.services import checkout_retry
from staging.models import Checkout
from tests.factories import make_user
from tests.launching import eventually, launch, wait_for
from tests.servers.stack import free_port
from tests.servers.worker import PUBLIC_URL


def user_with_address(name: str, *, verified: bool = True):
    user = make_user(name)
    user.email = f"{name}@example.org"
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=verified, primary=True)
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
    eventually(lambda: emailed(checkout).filter(message="E-mailed you.").exists())  # the address stays out of it


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
    Checkout.objects.filter(pk=checkout.pk).update(
        created_at=now - took, finished_at=now, launched_at=now - (retried_before_end or took))
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

    assert 'id="email-when-launch-ends" >' in page.get("/account/tokens/").content.decode()  # not checked
    assert announce_end(ended(eve, took=timedelta(hours=1)).pk) == "not wanted or no verified address"
    assert announce_end(ended(nameless, took=timedelta(hours=1)).pk) == "not wanted or no verified address"
    page.post("/account/settings/", {"email_when_launch_ends": "on"})
    assert announce_end(ended(eve, took=timedelta(hours=1)).pk) == "sent"
    assert len(mail_server.to("eve@example.org")) == 1


@pytest.mark.django_db
def test_a_mail_server_that_cannot_be_reached_raises_for_the_task_to_retry_and_marks_nothing(smtp_settings,
                                                                                          mail_server):
    checkout = ended(user_with_address("gil"), took=timedelta(hours=1))
    smtp_settings.EMAIL_PORT = free_port()  # nothing listens there

    with pytest.raises(MailNotYet):
        announce_end(checkout.pk)
    assert not emailed(checkout).exists()

    smtp_settings.EMAIL_PORT = mail_server.port
    assert announce_end(checkout.pk) == "sent"


@pytest.mark.django_db
def test_a_relay_saying_later_gives_the_end_back_for_a_retry_and_one_saying_never_is_recorded(smtp_settings,
                                                                                              mail_server):
    busy = ended(user_with_address("busy-ida"), took=timedelta(hours=1))
    nobody = ended(user_with_address("nobody-jo"), took=timedelta(hours=1))

    with pytest.raises(MailNotYet, match="451 4.2.1 Mailbox busy"):
        announce_end(busy.pk)
    refused = announce_end(nobody.pk)

    busy.refresh_from_db()
    assert busy.announced_end is None and not emailed(busy).exists()  # free for the task's next try
    assert refused == "refused"
    assert emailed(nobody).get().message == "Could not e-mail you: 550 5.1.1 No such mailbox"
    assert announce_end(nobody.pk) == "already sent"  # a permanent refusal is not tried again


@pytest.mark.django_db
def test_an_end_is_claimed_before_sending_so_a_lost_record_never_sends_twice(smtp_settings, mail_server):
    checkout = ended(user_with_address("kim"), took=timedelta(hours=1))
    assert announce_end(checkout.pk) == "sent"
    emailed(checkout).delete()  # as if the worker died between sending and recording

    assert announce_end(checkout.pk) == "already sent"
    assert len(mail_server.to("kim@example.org")) == 1


@pytest.mark.django_db
def test_no_mail_to_unverified_addresses_for_launches_not_ended_or_moved_on_or_without_a_mail_server(
        smtp_settings, mail_server):
    unverified = ended(user_with_address("lou", verified=False), took=timedelta(hours=1))
    stopped = ended(user_with_address("max"), took=timedelta(hours=1), state="stopped")
    retried = ended(user_with_address("ned"), took=timedelta(hours=1), state="failed")
    Checkout.objects.filter(pk=retried.pk).update(state="staging", finished_at=None)  # retried before the task ran
    printed = ended(user_with_address("oda"), took=timedelta(hours=1))

    outcomes = [announce_end(unverified.pk), announce_end(stopped.pk), announce_end(retried.pk)]
    smtp_settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # the demo's: prints only

    assert outcomes == ["not wanted or no verified address", "not ended", "not ended"]
    assert announce_end(printed.pk) == "mail off" and not emailed(printed).exists()
    assert all(mail_server.to(f"{name}@example.org") == [] for name in ("lou", "max", "ned", "oda"))


@pytest.mark.django_db
def test_a_workflow_title_cannot_add_headers_or_recipients(smtp_settings, mail_server):
    checkout = ended(user_with_address("hal"), took=timedelta(hours=1),
                     title="Crab\r\nBcc: victim@example.org\r\nX-Evil: 1")

    assert announce_end(checkout.pk) == "sent"

    [mail] = mail_server.to("hal@example.org")
    assert mail["Subject"] == "Your notebook is ready: Crab Bcc: victim@example.org X-Evil: 1"
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail_server.to("victim@example.org") == []


@pytest.mark.django_db
def test_the_account_page_says_whether_mail_is_sent_and_changing_it_needs_a_login(smtp_settings):
    unverified = user_with_address("pia", verified=False)
    page = Client()
    page.force_login(unverified)

    shown = page.get("/account/tokens/").content.decode()
    smtp_settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    without_server = page.get("/account/tokens/").content.decode()

    assert "pia@example.org is not verified yet, so nothing is sent to it" in shown
    assert "This portal does not send e-mail" in without_server and "email-when-launch-ends" not in without_server
    anonymous = Client().post("/account/settings/", {"email_when_launch_ends": "on"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_a_deployment_that_sends_mail_with_links_to_this_machine_is_warned(settings):
    from esap.checks import public_url_is_set

    settings.DEBUG, settings.EMAIL_BACKEND = False, "django.core.mail.backends.smtp.EmailBackend"
    settings.ESAP_PUBLIC_URL = "http://127.0.0.1:8000"
    warned = public_url_is_set(None)
    settings.ESAP_PUBLIC_URL = "https://esap.example.org"

    assert [w.id for w in warned] == ["esap.W001"] and public_url_is_set(None) == []


@pytest.mark.django_db
def test_a_failed_launch_that_cannot_be_retried_is_told_why_instead_of_to_retry(smtp_settings, mail_server):
    checkout = ended(user_with_address("noretry"), took=timedelta(minutes=20), state="failed")
    Checkout.objects.filter(pk=checkout.pk).update(error_code="facility.missing")

    assert announce_end(checkout.pk) == "sent"

    [mail] = mail_server.to("noretry@example.org")
    assert "The facility or workflow of this launch is gone, so it cannot be retried." in mail.get_content()
    assert "Retry from the failed step" not in mail.get_content()
