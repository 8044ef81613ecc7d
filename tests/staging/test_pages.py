"""The portal's pages: search, paginate, fill the cart, and keep each user's cart to themselves."""
import pytest
from django.contrib.auth.models import User
from django.test import Client

from facilities.models import Facility, Visibility
from staging.models import Cart, CartItem, Checkout
from tests.factories import make_dataset, make_facility, make_user, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client():
    client = Client()
    client.force_login(make_user("alice"))
    return client


def test_search_pages_find_by_keyword():
    make_dataset(title="Crab light curve")
    make_dataset(title="Vela light curve")
    make_workflow()
    make_facility("swan", name="SWAN", keywords="cern")

    assert "Crab light curve" in Client().get("/datasets/", {"q": "crab"}).content.decode()
    assert "Vela" not in Client().get("/datasets/", {"q": "crab"}).content.decode()
    assert "Peek at files" in Client().get("/workflows/", {"q": "peek"}).content.decode()
    assert "SWAN" in Client().get("/facilities/", {"q": "cern"}).content.decode()
    home = Client().get("/", {"q": "crab"}).content.decode()
    assert "Crab light curve" in home


def test_dataset_pages_paginate_with_next_and_previous_links():
    for index in range(45):
        make_dataset(f"file-{index:02}.csv", title=f"Spectrum {index:02}")

    first = Client().get("/datasets/", {"q": "spectrum"}).content.decode()
    third = Client().get("/datasets/", {"q": "spectrum", "page": 3}).content.decode()

    assert "Page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Page 3 of 3" in third and 'rel="prev"' in third and "45 results" in third


def test_adding_to_the_cart_from_the_dataset_page(alice_client):
    dataset = make_dataset(title="Crab light curve")

    response = alice_client.post("/cart/add/", {"dataset": dataset.pk, "next": "/datasets/"})

    assert response.status_code == 302 and response["Location"] == "/datasets/"
    cart_page = alice_client.get("/cart/").content.decode()
    assert "Crab light curve" in cart_page and "Cart (1)" in cart_page


def test_a_size_the_source_did_not_give_is_shown_as_unknown_not_as_zero(alice_client):
    unknown = make_dataset(title="VO image", size_bytes=None)
    make_dataset(title="Empty file", size_bytes=0)
    alice_client.post("/cart/add/", {"dataset": unknown.pk})

    listed = alice_client.get("/datasets/").content.decode()
    cart = alice_client.get("/cart/").content.decode()

    assert listed.count("unknown size") == 1 and listed.count("0\xa0bytes") == 1
    assert "unknown size" in cart and "0\xa0bytes" not in cart


def test_choosing_workflow_and_facility_profile_on_the_cart_page(alice_client):
    workflow = make_workflow()
    make_facility("swan", name="SWAN")

    alice_client.post("/cart/workflow/", {"workflow": workflow.pk})
    alice_client.post("/cart/facility/", {"facility_profile": "swan/medium"})
    page = alice_client.get("/cart/").content.decode()

    assert f'<a href="/workflows/{workflow.pk}/">Peek at files</a> —\nits latest version' in page
    assert 'value="swan/medium" selected' in page


def test_taking_the_workflow_or_facility_out_of_the_cart_says_so(alice_client):
    make_facility("swan", name="SWAN")
    alice_client.post("/cart/workflow/", {"workflow": make_workflow().pk})
    alice_client.post("/cart/facility/", {"facility_profile": "swan/medium"})
    alice_client.get("/cart/")

    workflow = alice_client.post("/cart/workflow/", {"workflow": ""}, follow=True).content.decode()
    facility = alice_client.post("/cart/facility/", {"facility_profile": ""}, follow=True).content.decode()

    assert "Workflow removed from the cart." in workflow and "Workflow chosen." not in workflow
    assert "Facility removed from the cart." in facility and "Facility chosen." not in facility


def test_the_cart_page_shows_a_pinned_version_and_keeps_it(alice_client):
    workflow = make_workflow()
    commit = workflow.versions.first().commit_sha
    alice_client.post("/cart/workflow/", {"workflow": workflow.pk, "commit": commit})

    page = alice_client.get("/cart/").content.decode()

    assert f"pinned to commit <code>{commit[:10]}</code>" in page
    assert 'id="cart-workflow"' not in page  # no list whose first entry a resubmission would choose
    alice_client.post("/cart/workflow/", {"workflow": ""})
    assert 'id="cart-workflow"' in alice_client.get("/cart/").content.decode()


def test_the_cart_page_offers_the_first_workflows_and_says_where_the_others_are(alice_client, monkeypatch):
    monkeypatch.setattr("staging.views.CART_WORKFLOW_CHOICES", 2)
    for _ in range(3):
        make_workflow()

    page = alice_client.get("/cart/").content.decode()

    choices = page.split('id="cart-workflow"')[1].split("</select>")[0]
    assert choices.count("<option ") == 3  # the empty choice and two workflows
    assert 'The first 2; <a href="/workflows/">search the workflows</a> for others.' in page


def test_checkout_of_an_incomplete_cart_shows_what_is_missing(alice_client):
    response = alice_client.post("/cart/checkout/", follow=True)

    assert "Add at least one dataset to your cart" in response.content.decode()


def test_removing_another_users_line_is_refused_as_not_in_your_cart_and_leaves_it(alice_client):
    bob = make_user("bob")
    bob_client = Client()
    bob_client.force_login(bob)
    bob_client.post("/cart/add/", {"dataset": make_dataset().pk})
    bobs_item = CartItem.objects.get(cart__user=bob)

    page = alice_client.post(f"/cart/remove/{bobs_item.pk}/", follow=True).content.decode()

    assert "That dataset is no longer in your cart." in page
    assert CartItem.objects.filter(pk=bobs_item.pk).exists()


def test_a_second_click_on_remove_says_the_line_is_gone_on_the_cart_page(alice_client):
    alice_client.post("/cart/add/", {"dataset": make_dataset(title="Crab light curve").pk})
    item = CartItem.objects.get()

    alice_client.post(f"/cart/remove/{item.pk}/", {"next": "/cart/"})
    second = alice_client.post(f"/cart/remove/{item.pk}/", {"next": "/cart/"})

    assert second.status_code == 302 and second["Location"] == "/cart/"
    page = alice_client.get("/cart/").content.decode()
    assert '<p class="error" role="alert">That dataset is no longer in your cart.</p>' in page
    assert "Crab light curve" not in page


def test_adding_a_dataset_gone_from_the_catalogue_says_so_on_the_page_it_was_added_from(alice_client):
    dataset = make_dataset(title="Crab light curve")
    gone = dataset.pk
    dataset.delete()

    response = alice_client.post("/cart/add/", {"dataset": gone, "next": "/datasets/?q=crab"})

    assert response.status_code == 302 and response["Location"] == "/datasets/?q=crab"
    assert "That dataset is no longer in the catalogue." in alice_client.get("/datasets/").content.decode()


def test_choosing_a_facility_hidden_since_the_page_was_shown_says_so_and_keeps_the_choice(alice_client):
    make_facility("swan", name="SWAN")
    alice_client.post("/cart/facility/", {"facility_profile": "swan/small"})
    Facility.objects.filter(slug="swan").update(visibility=Visibility.HIDDEN)

    page = alice_client.post("/cart/facility/", {"facility_profile": "swan/medium"}, follow=True)

    assert "That facility is not available (deleted, or not shared with you)." in page.content.decode()
    assert Cart.objects.get().profile.slug == "small"


def test_cart_pages_need_a_login():
    response = Client().get("/cart/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_state_changing_pages_require_the_csrf_token():
    user = make_user("carol")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post("/cart/add/", {"dataset": make_dataset().pk}).status_code == 403
    assert not CartItem.objects.filter(cart__user=user).exists()


def test_local_accounts_sign_up_and_log_in(settings):
    settings.ESAP_OPEN_SIGNUP = True
    client = Client()
    signup = client.post("/accounts/signup/", {
        "username": "newcomer", "email": "new@example.org",
        "password1": "a-fine-long-password-1", "password2": "a-fine-long-password-1"})

    assert signup.status_code == 302
    client.logout()
    login = client.post("/accounts/login/", {"login": "newcomer", "password": "a-fine-long-password-1"})
    assert login.status_code == 302
    assert "newcomer" in client.get("/").content.decode()


def test_without_open_signup_nobody_can_pick_a_username_for_themselves(settings):
    settings.ESAP_OPEN_SIGNUP = False

    page = Client().post("/accounts/signup/", {
        "username": "jdoe", "email": "j@example.org",
        "password1": "a-fine-long-password-1", "password2": "a-fine-long-password-1"})

    assert "Accounts on this portal come from your community's identity provider" in page.content.decode()
    assert not User.objects.filter(username="jdoe").exists()


def test_your_launches_are_paged_newest_first_and_a_ready_one_can_be_stopped_from_the_list():
    alice, swan = make_user("alice"), make_facility("swan")
    for index in range(25):
        Checkout.objects.create(user=alice, state="ready" if index == 24 else "failed", facility=swan,
                                workflow_title=f"Analysis {index:02}", facility_slug="swan", profile_slug="small",
                                server_name="esap-1" if index == 23 else "")
    Checkout.objects.create(user=make_user("bob"), workflow_title="Bob's analysis", state="ready")
    client = Client()
    client.force_login(alice)

    first = client.get("/checkouts/").content.decode()
    second = client.get("/checkouts/", {"page": 2}).content.decode()
    newest = Checkout.objects.get(workflow_title="Analysis 24")
    stopped = client.post(f"/checkouts/{newest.pk}/stop/", {"next": "/checkouts/?page=1"})

    assert "Page 1 of 2" in first and "Analysis 24" in first and "Analysis 05" in first
    assert "Analysis 04" not in first and "Analysis 04" in second and "Analysis 00" in second
    assert "Bob's analysis" not in first + second
    assert first.count('aria-label="Stop the server of this launch"') == 1
    assert first.count('aria-label="Cancel this launch and remove its server"') == 1  # a failed one holding one
    assert (stopped.status_code, stopped["Location"]) == (302, "/checkouts/?page=1")
    newest.refresh_from_db()
    assert newest.state == "stopped"
    after = client.get(f"/checkouts/{newest.pk}/").content.decode()
    assert "This launch has ended; its server is being stopped." in after and 'id="stop"' not in after


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_acting_on_a_launch_returns_only_to_a_page_of_the_portal(elsewhere):
    from staging.models import Checkout

    alice = make_user("alice")
    checkout = Checkout.objects.create(user=alice, state="failed", facility=make_facility("swan"),
                                       workflow_title="Analysis", facility_slug="swan", profile_slug="small")
    client = Client()
    client.force_login(alice)

    response = client.post(f"/checkouts/{checkout.pk}/cancel/", {"next": elsewhere})

    assert (response.status_code, response["Location"]) == (302, f"/checkouts/{checkout.pk}/")


def test_a_production_deployment_with_open_signup_is_warned(settings):
    from esap.checks import signup_is_closed_in_production

    settings.DEBUG, settings.ESAP_OPEN_SIGNUP = False, True
    warned = signup_is_closed_in_production(None)
    settings.ESAP_OPEN_SIGNUP = False

    assert [w.id for w in warned] == ["esap.W002"] and signup_is_closed_in_production(None) == []


def test_the_live_launch_page_is_announced():
    from staging.models import Checkout

    alice = make_user("alice")
    checkout = Checkout.objects.create(user=alice, state="staging", facility=make_facility("swan"),
                                       workflow_title="Analysis", facility_slug="swan", profile_slug="small")
    client = Client()
    client.force_login(alice)

    html = client.get(f"/checkouts/{checkout.pk}/").content.decode()

    assert '<ol id="events" aria-live="polite">' in html
    assert 'id="state" aria-live="polite"' in html


def test_the_failure_box_is_an_alert_and_a_cancelled_launch_says_so():
    from staging.models import Checkout

    alice, swan = make_user("alice"), make_facility("swan")
    failed = Checkout.objects.create(user=alice, state="failed", facility=swan, workflow_title="Analysis",
                                     error_message="The facility refused.")
    cancelled = Checkout.objects.create(user=alice, state="cancelled", facility=swan, workflow_title="Analysis")
    cancelled.events.create(phase="cancelled", message="Cancelled by the user.")
    client = Client()
    client.force_login(alice)

    failure_page = client.get(f"/checkouts/{failed.pk}/").content.decode()
    assert '<div class="errorbox" id="failure" role="alert">' in failure_page
    assert "Cancelled by the user." in client.get(f"/checkouts/{cancelled.pk}/").content.decode()


SPAWN_FAILED = ("Your server could not be started: Spawn failed: HTTP 500: error (single-user server for "
                "alice:esap-308a5dc39017 exited with status 3 during startup)")
PROFILE_REJECTED = ("The facility's JupyterHub rejected the request: POST /hub/api/users/alice/servers/"
                    "esap-26b7b36e13c3: 400 Unknown profile 'nonexistent'")


def failed_launch(user, *, code: str, message: str, step: str = "spawning"):
    from staging.models import Checkout

    return Checkout.objects.create(user=user, state="failed", facility=make_facility(),
                                   workflow_title="Analysis", facility_slug="local-drills", profile_slug="exits",
                                   failed_step=step, error_code=code, error_message=message)


def test_a_failure_says_what_happened_the_hubs_words_under_details_and_that_the_cart_is_kept(alice_client):
    failed = failed_launch(User.objects.get(username="alice"), code="spawn.failed", message=SPAWN_FAILED)

    html = alice_client.get(f"/checkouts/{failed.pk}/").content.decode()

    failure = html[html.index('id="failure"'):html.index("</div>", html.index('id="failure"'))]
    assert "<p>Your server could not be started.</p>" in failure
    assert ("<details><summary>Details</summary><p>Spawn failed: HTTP 500: error (single-user server for "
            "alice:esap-308a5dc39017 exited with status 3 during startup)</p></details>") in failure
    assert 'Your cart is kept — you can <a href="/cart/">change it and check out again</a>.' in html
    assert 'id="retry-form"' in html


@pytest.mark.parametrize("code, message", [
    ("facility.no_token", "Facility 'swan' has no API token configured; an operator must add one."),
    ("facility.rejected", PROFILE_REJECTED),
])
def test_a_failure_only_operators_can_mend_says_so_and_still_offers_the_retry(alice_client, code, message):
    failed = failed_launch(User.objects.get(username="alice"), code=code, message=message)

    html = alice_client.get(f"/checkouts/{failed.pk}/").content.decode()
    terminal = alice_client.get(f"/api/checkouts/{failed.pk}/events/").json()["terminal"]

    assert "This needs the facility's operators: once they have mended it, Retry goes on from here." in html
    assert 'id="retry-form"' in html and 'href="/cart/"' in html
    assert (terminal["retryable"], terminal["needs_operator"]) == (True, True)


def test_a_launch_whose_workflow_a_harvest_withdrew_offers_no_retry_and_says_why(alice_client):
    from django.utils import timezone
    from django.utils.html import escape

    alice = User.objects.get(username="alice")
    failed = failed_launch(alice, code="spawn.failed", message=SPAWN_FAILED)
    failed.workflow = make_workflow()
    failed.save()
    type(failed.workflow).objects.filter(pk=failed.workflow.pk).update(withdrawn_at=timezone.now())

    html = alice_client.get(f"/checkouts/{failed.pk}/").content.decode()
    terminal = alice_client.get(f"/api/checkouts/{failed.pk}/events/").json()["terminal"]

    assert 'id="retry-form"' not in html
    assert terminal["retryable"] is False
    assert "so this launch cannot be retried" in terminal["retry_refused"]
    assert escape(terminal["retry_refused"]) in html


def test_a_launch_whose_facility_is_gone_offers_no_retry_and_refuses_one(alice_client):
    failed = failed_launch(User.objects.get(username="alice"), code="facility.missing",
                           message="The facility of this checkout no longer exists in the catalogue.")

    html = alice_client.get(f"/checkouts/{failed.pk}/").content.decode()
    retried = alice_client.post(f"/checkouts/{failed.pk}/retry/", follow=True).content.decode()

    assert 'id="retry-form"' not in html and "so it cannot be retried" in html
    assert "The facility or workflow of this launch is gone, so it cannot be retried. Your cart is kept" in retried
    failed.refresh_from_db()
    assert failed.state == "failed"


def test_a_request_the_hub_rejects_after_spawning_can_be_retried(alice_client):
    # a server gone between two steps: the retry spawns it again
    failed = failed_launch(User.objects.get(username="alice"), code="facility.rejected", step="uploading",
                           message="The facility's JupyterHub rejected the request: 404 Not Found")

    html = alice_client.get(f"/checkouts/{failed.pk}/").content.decode()

    assert 'id="retry-form"' in html and "<p>The facility&#x27;s JupyterHub rejected the request.</p>" in html


def test_repeated_row_buttons_name_their_row(alice_client):
    dataset = make_dataset(title="Crab light curve")

    page = alice_client.get("/datasets/").content.decode()
    alice_client.post("/cart/add/", {"dataset": dataset.pk})
    cart = alice_client.get("/cart/").content.decode()

    assert 'aria-label="Add Crab light curve to the cart"' in page
    assert 'aria-label="Remove Crab light curve from the cart"' in cart


def _cart_with_a_dataset_and(client, *, facility_profile: str = "") -> None:
    client.post("/cart/add/", {"dataset": make_dataset(title="Crab light curve").pk})
    if facility_profile:
        client.post("/cart/facility/", {"facility_profile": facility_profile})


def test_checkout_launches_the_workflow_and_profile_the_cart_page_shows_without_choose(alice_client):
    workflow = make_workflow()
    make_facility("swan", name="SWAN")
    _cart_with_a_dataset_and(alice_client, facility_profile="swan/small")

    page = alice_client.get("/cart/").content.decode()
    response = alice_client.post("/cart/checkout/",
                                 {"workflow": workflow.pk, "facility_profile": "swan/medium"})

    checkout_form = page.split('action="/cart/checkout/"')[1].split("</form>")[0]
    assert 'name="workflow"' in checkout_form and 'name="facility_profile"' in checkout_form
    checkout = Checkout.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/checkouts/{checkout.pk}/"
    assert (checkout.workflow, checkout.facility_slug, checkout.profile_slug) == (workflow, "swan", "medium")


def test_the_choose_and_remove_buttons_of_the_cart_page_save_only_their_own_choice(alice_client):
    workflow = make_workflow()
    make_facility("swan", name="SWAN")
    page = alice_client.get("/cart/").content.decode()

    assert page.count('formaction="/cart/workflow/">Choose</button>') == 1
    assert page.count('formaction="/cart/facility/">Choose</button>') == 1
    alice_client.post("/cart/workflow/", {"workflow": workflow.pk, "facility_profile": "swan/medium"})
    assert Cart.objects.get().workflow == workflow and Cart.objects.get().profile is None
    chosen = alice_client.get("/cart/").content.decode()
    assert 'formaction="/cart/workflow/" name="workflow" value=""' in chosen


def test_a_choice_refused_at_checkout_says_why_launches_nothing_and_keeps_what_was_picked(alice_client):
    workflow = make_workflow()
    make_facility("swan", name="SWAN")
    make_facility("hidden", name="Hidden", visibility=Visibility.HIDDEN)
    _cart_with_a_dataset_and(alice_client, facility_profile="swan/small")

    refused = alice_client.post("/cart/checkout/",
                                {"workflow": workflow.pk, "facility_profile": "hidden/small"})
    mismatch = alice_client.post("/cart/checkout/", {"facility_profile": "swan/huge"})

    assert not Checkout.objects.exists()
    assert refused.status_code == 400
    assert "That facility is not available (deleted, or not shared with you)." in refused.content.decode()
    cart = Cart.objects.get()
    assert cart.workflow == workflow and cart.profile.slug == "small"  # the allowed one saved, not the other
    assert "The profile &#x27;huge&#x27; is not offered by facility &#x27;swan&#x27;." in mismatch.text


def test_a_refused_checkout_selects_again_the_choices_the_user_made(alice_client):
    workflow = make_workflow()
    make_facility("swan", name="SWAN")
    _cart_with_a_dataset_and(alice_client)
    in_another_tab = Checkout.objects.create(user=User.objects.get(username="alice"))
    Cart.objects.update(frozen_by=in_another_tab)

    page = alice_client.post("/cart/checkout/", {"workflow": workflow.pk, "facility_profile": "swan/medium"})

    text = page.content.decode()
    assert page.status_code == 400 and text.count("Your cart is being checked out") == 1
    assert f'<option value="{workflow.pk}" selected>' in text and 'value="swan/medium" selected' in text


def test_a_workflow_chosen_on_its_page_is_marked_in_your_cart_and_the_message_says_what_next(alice_client):
    workflow = make_workflow()
    detail = f"/workflows/{workflow.pk}/"

    page = alice_client.post("/cart/workflow/", {"workflow": workflow.pk, "next": detail}, follow=True).text

    assert 'Workflow chosen. <a href="/facilities/">Next: choose a facility</a>.' in page
    assert '<p id="workflow-in-cart"><strong>In your cart ✓</strong> (its latest version)' in page
    assert 'id="choose-workflow"' not in page
    assert 'id="workflow-in-cart"' not in Client().get(detail).text  # nobody's cart for a visitor


def test_a_pinned_version_is_marked_in_your_cart_and_the_latest_is_offered_instead(alice_client):
    workflow = make_workflow()
    commit = workflow.versions.first().commit_sha

    page = alice_client.post("/cart/workflow/", {"workflow": workflow.pk, "commit": commit,
                                                 "next": f"/workflows/{workflow.pk}/"}, follow=True).text

    assert f'data-version-in-cart="{commit}">In your cart ✓' in page
    assert f"pinned to commit <code>{commit[:10]}</code>" in page and "Use its latest version instead" in page


def test_a_profile_chosen_on_its_facility_page_is_marked_in_your_cart_the_others_stay_offered(alice_client):
    make_facility("swan", name="SWAN")
    alice_client.post("/cart/workflow/", {"workflow": make_workflow().pk})

    chosen = {"facility_profile": "swan/medium", "next": "/facilities/swan/"}
    page = alice_client.post("/cart/facility/", chosen, follow=True).text

    assert 'Facility chosen. <a href="/datasets/">Next: add datasets</a>.' in page
    assert 'data-profile-in-cart="medium"><strong>In your cart ✓</strong>' in page
    assert 'data-profile="medium"' not in page and 'data-profile="small"' in page


def test_with_a_full_cart_the_message_leads_to_the_cart_and_on_the_cart_page_says_no_more(alice_client):
    make_facility("swan", name="SWAN")
    _cart_with_a_dataset_and(alice_client, facility_profile="swan/small")

    away = alice_client.post("/cart/workflow/", {"workflow": make_workflow().pk, "next": "/workflows/"},
                             follow=True).text
    on_the_cart = alice_client.post("/cart/facility/", {"facility_profile": "swan/medium", "next": "/cart/"},
                                    follow=True).text

    assert 'Workflow chosen. <a href="/cart/">Go to your cart</a>.' in away
    assert "Facility chosen." in on_the_cart and "Go to your cart" not in on_the_cart


def test_a_visitor_is_offered_to_log_in_to_add_and_comes_back_to_the_same_search():
    make_dataset(title="Crab light curve")

    listed = Client().get("/datasets/", {"q": "crab"}).text

    assert ('<a href="/accounts/login/?next=/datasets/%3Fq%3Dcrab" aria-label="Log in to add Crab light curve'
            ' to a cart">Log in to add</a>') in listed


def test_datasets_found_from_the_home_page_can_be_added_there_or_looked_up(alice_client):
    crab = make_dataset(title="Crab light curve")
    make_dataset(title="Crab spectrum")

    visitor = Client().get("/", {"q": "crab"}).text
    added = alice_client.post("/cart/add/", {"dataset": crab.pk, "next": "/?q=crab"})
    home = alice_client.get("/", {"q": "crab"}).text

    assert '<a href="/datasets/?q=crab">Crab light curve</a>' in visitor
    assert 'href="/accounts/login/?next=/%3Fq%3Dcrab" aria-label="Log in to add Crab spectrum' in visitor
    assert added["Location"] == "/?q=crab"
    assert '<input type="hidden" name="next" value="/?q=crab"><button type="submit" data-dataset' in home
    assert 'aria-label="Add Crab spectrum to the cart"' in home
    assert 'aria-label="Add Crab light curve' not in home
    assert home.count("In your cart") == 1


@pytest.mark.parametrize("state, heading", [
    ("spawning", "Launching Analysis"), ("ready", "Ready: Analysis"), ("failed", "Failed: Analysis"),
    ("cancelled", "Cancelled: Analysis"), ("stopped", "Stopped: Analysis"),
])
def test_a_launchs_page_is_headed_by_its_state(alice_client, state, heading):
    from staging.models import Checkout

    checkout = Checkout.objects.create(user=User.objects.get(username="alice"), state=state,
                                       facility=make_facility(), workflow_title="Analysis")

    assert f'<h1 id="heading">{heading}</h1>' in alice_client.get(f"/checkouts/{checkout.pk}/").content.decode()


def test_launch_pages_name_the_facility_and_profile_as_the_user_chose_them_the_receipt_its_slugs_too(
        alice_client):
    from facilities.models import ServerProfile
    from staging.models import Checkout

    alice, local = User.objects.get(username="alice"), make_facility("local", name="Local JupyterHub")
    ServerProfile.objects.filter(facility=local, slug="small").update(display_name="Small server")
    launched = Checkout.objects.create(user=alice, state="ready", facility=local, workflow_title="Analysis",
                                       facility_slug="local", profile_slug="small")
    gone = Checkout.objects.create(user=alice, state="stopped", facility=None, workflow_title="Old analysis",
                                   facility_slug="swan", profile_slug="large")

    page = alice_client.get(f"/checkouts/{launched.pk}/").content.decode()
    launches = alice_client.get("/checkouts/").content.decode()
    receipt = alice_client.get(f"/checkouts/{launched.pk}/receipt/").content.decode()
    gone_receipt = alice_client.get(f"/checkouts/{gone.pk}/receipt/").content.decode()

    assert "on Local JupyterHub — Small server" in page
    assert "<td>Local JupyterHub — Small server</td>" in launches and "<td>swan — large</td>" in launches
    assert "Local JupyterHub — Small server · <code>local/small</code>" in receipt
    assert "swan — large · <code>swan/large</code>" in gone_receipt
