"""A scientist's whole path in a real browser: log in through the community's identity provider,
search, fill the cart, check out, watch the launch, and land in JupyterLab (single sign-on: no second
login) with the notebook's first cells run on their data. And the Virtual Observatory page: a cone
search on a real VO service, its result into the cart."""
import os

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.factories import make_dataset, make_facility, make_user, make_workflow
from staging import services
from staging.checkout import machine
from staging.checkout.states import State
from staging.models import Checkout
from tests.launching import eventually, hub_client, local_dataset
from tests.servers.oidc.fixture import PROVIDER_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def click(browser, css: str) -> None:
    WebDriverWait(browser, 20).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()


@pytest.mark.hub
@pytest.mark.oidc
def test_search_to_live_notebook(browser, live_server, hub_facility, launch_env, portal_uses_idp):
    # The hub logs its users in through the same IdP, naming them by the same claim.
    facility = hub_facility(name="Browser hub", hub_url=launch_env.public_url, identity_provider=PROVIDER_ID,
                            hub_username_claim="preferred_username")
    local_dataset("lightcurves/crab_pulsar.csv")
    workflow = make_workflow(path="light_curve_summary.ipynb", first_cells=3)
    wait = WebDriverWait(browser, 60)

    browser.get(f"{live_server.url}/accounts/login/")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Test IdP").click()
    click(browser, "form button[type=submit]")  # allauth asks before leaving for the IdP
    wait.until(EC.presence_of_element_located((By.ID, "login-form")))
    browser.find_element(By.NAME, "login").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys("alice-pass-1")
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.ID, "nav-cart")))

    browser.get(f"{live_server.url}/datasets/?q=crab")
    click(browser, 'button[data-dataset="lightcurves/crab_pulsar.csv"]')
    wait.until(EC.text_to_be_present_in_element((By.ID, "nav-cart"), "Cart (1)"))
    browser.get(f"{live_server.url}/workflows/?q=light+curve")
    browser.find_element(By.LINK_TEXT, workflow.title).click()
    click(browser, "#choose-workflow")
    # Each choice is a form POST: wait for its answer before navigating on, or the two race.
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messages"), "Workflow chosen."))
    browser.get(f"{live_server.url}/facilities/{facility.slug}/")
    click(browser, 'button[data-profile="exits"]')
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messages"), "Facility chosen."))

    # Switched to Small in the cart's dropdown, its Choose not pressed: the checkout launches what it shows.
    browser.get(f"{live_server.url}/cart/")
    profiles = Select(browser.find_element(By.ID, "cart-facility"))
    assert profiles.first_selected_option.text.endswith("Exits")
    profiles.select_by_value(f"{facility.slug}/small")
    click(browser, "#checkout")

    # No second login: the hub sends the browser to the IdP, which knows it already.
    wait.until(EC.url_contains("/light_curve_summary.ipynb"))
    assert "/lab/tree/esap/" in browser.current_url
    assert "/user/alice/" in browser.current_url
    output = WebDriverWait(browser, 90).until(EC.presence_of_element_located(
        (By.XPATH, "//*[contains(@class, 'jp-OutputArea-output')][contains(., '200 samples')]")))
    assert "lightcurves/crab_pulsar.csv: 200 samples" in output.text
    if os.environ.get("ESAP_SCREENSHOT_DIR"):  # for a person to look at what the scientist sees
        browser.save_screenshot(os.path.join(os.environ["ESAP_SCREENSHOT_DIR"], "notebook.png"))

    # Done with it: the launch's server is stopped from the portal's list of launches.
    browser.get(f"{live_server.url}/checkouts/")
    click(browser, 'button[aria-label="Stop the server of this launch"]')
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messages"), "Your server is being stopped"))
    assert "stopped" in browser.find_element(By.CSS_SELECTOR, "td.state-stopped").text
    checkout = Checkout.objects.get(user__username="alice")
    # The hub stops a server politely (SIGINT, then the kernel the open notebook holds shuts down), which
    # a loaded machine stretched past 30 s once: this checks that it ends, not how fast.
    eventually(lambda: hub_client(launch_env).get_server("alice", checkout.server_name) is None, timeout=90)
    if os.environ.get("ESAP_SCREENSHOT_DIR"):
        browser.save_screenshot(os.path.join(os.environ["ESAP_SCREENSHOT_DIR"], "launches.png"))


def log_in_as(browser, live_server, user) -> None:
    """The session cookie of a login made on the server side (the IdP path is the test above)."""
    client = Client()
    client.force_login(user)
    browser.get(f"{live_server.url}/healthz")
    browser.delete_all_cookies()
    browser.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "path": "/"})


@pytest.mark.vo
def test_vo_cone_search_to_cart(browser, live_server, vo_server):
    from staging.models import VOService

    VOService.objects.create(name="Fixture TAP", slug="fixture-tap", kind="tap", url=vo_server.tap_url)
    log_in_as(browser, live_server, User.objects.create_user("vera", password="not-used-here"))
    wait = WebDriverWait(browser, 60)

    browser.get(f"{live_server.url}/vo/")
    Select(browser.find_element(By.NAME, "service")).select_by_value("fixture-tap")
    for name, value in {"ra": "150", "dec": "2", "radius": "0.05"}.items():
        browser.find_element(By.NAME, name).send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#vo-search button[type=submit]").click()

    results = wait.until(EC.presence_of_element_located((By.ID, "vo-results")))
    assert "field-b-v.fits" in results.text and "field-a-v.fits" not in results.text
    click(browser, 'button[data-dataset="ivo://test.portal.local/~?vofix/data/field-b-v.fits"]')
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messages"), "Added to your cart."))
    assert browser.find_element(By.NAME, "ra").get_attribute("value") == "150"  # back on the same search
    assert "Cart (1)" in browser.find_element(By.ID, "nav-cart").text
    browser.get(f"{live_server.url}/cart/")
    assert "field-b-v.fits" in browser.find_element(By.TAG_NAME, "main").text


def fits_the_width(browser) -> bool:
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_on_a_phone_the_dataset_and_cart_pages_need_no_sideways_scrolling(browser, live_server):
    long_id = "catalogues/a_survey_release_whose_identifier_is_far_too_long_for_one_line_of_a_phone.fits"
    dataset = make_dataset(long_id, title="A long one")
    make_facility(name="A facility whose name alone fills a phone", profiles=("a-profile-with-a-long-name",))
    user = make_user("phoebe")
    services.cart_add_dataset(user=user, dataset_id=dataset.pk)
    make_dataset("lightcurves/another.csv", title="Another")
    log_in_as(browser, live_server, user)
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{live_server.url}/datasets/")
        assert fits_the_width(browser)
        add = browser.find_element(By.CSS_SELECTOR, 'button[data-dataset="lightcurves/another.csv"]')
        assert add.rect["x"] + add.rect["width"] <= browser.execute_script("return window.innerWidth")
        browser.get(f"{live_server.url}/cart/")
        assert fits_the_width(browser)
    finally:
        browser.set_window_size(1400, 1000)


def focused(browser) -> str:
    return browser.execute_script("const e = document.activeElement; return e.id || e.textContent.trim()")


def test_the_keyboard_skips_the_navigation_and_goes_on_from_a_confirmation(browser, live_server):
    make_dataset("lightcurves/one.csv", title="One")
    make_dataset("lightcurves/two.csv", title="Two")
    log_in_as(browser, live_server, make_user("kai"))

    browser.get(f"{live_server.url}/datasets/")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert focused(browser) == "Skip to content"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.execute_script("return document.querySelector('main').contains(document.activeElement)")

    browser.find_element(By.CSS_SELECTOR, 'button[data-dataset="lightcurves/one.csv"]').send_keys(Keys.ENTER)
    WebDriverWait(browser, 20).until(EC.text_to_be_present_in_element((By.ID, "messages"), "Added to your cart."))
    assert focused(browser) == "messages"
    assert browser.find_element(By.CSS_SELECTOR, "#messages [role=status]").text.startswith("Added to your cart.")
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.execute_script("return document.querySelector('main').contains(document.activeElement)")


def watching_a_launch(browser, live_server, *, state: str) -> Checkout:
    """A launch's page open in the browser, following its stream, while the launch is in `state`."""
    user = make_user("lena")
    checkout = Checkout.objects.create(
        user=user, state=state, facility=make_facility("drills", name="Local JupyterHub"),
        facility_slug="drills", profile_slug="small", workflow_title="Light curve summary")
    log_in_as(browser, live_server, user)
    browser.get(f"{live_server.url}/checkouts/{checkout.pk}/")
    WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "cancel-form")))
    return checkout


def test_a_launch_seen_becoming_ready_opens_its_notebook_once_and_back_shows_the_whole_ready_page(
        browser, live_server):
    checkout = watching_a_launch(browser, live_server, state="executing")
    notebook = f"{live_server.url}/workflows/"  # stands in for JupyterLab
    wait = WebDriverWait(browser, 20)

    machine.transition(checkout.pk, source=State.EXECUTING, target=State.READY,
                       message="Your notebook is ready.", lab_url=notebook)
    wait.until(EC.url_to_be(notebook))
    browser.back()

    wait.until(EC.presence_of_element_located((By.ID, "stop-form")))
    assert browser.find_element(By.ID, "download-notebook").is_displayed()
    assert browser.find_element(By.LINK_TEXT, "Receipt").is_displayed()
    assert not browser.find_elements(By.ID, "cancel-form")
    assert not browser.find_element(By.ID, "opening").is_displayed()
    assert browser.find_element(By.ID, "heading").text == "Ready: Light curve summary"
    with pytest.raises(TimeoutException):  # it does not open the notebook again
        WebDriverWait(browser, 3).until(EC.url_to_be(notebook))


def test_a_launch_seen_failing_shows_the_failure_drawn_by_the_server(browser, live_server):
    checkout = watching_a_launch(browser, live_server, state="spawning")

    no_token = "Facility 'drills' has no API token configured; an operator must add one."
    machine.transition(checkout.pk, source=State.SPAWNING, target=State.FAILED, message=no_token,
                       failed_step="spawning", error_code="facility.no_token", error_message=no_token)

    kept = WebDriverWait(browser, 20).until(EC.visibility_of_element_located((By.ID, "cart-kept")))
    cart = kept.find_element(By.LINK_TEXT, "change it and check out again")
    assert cart.get_attribute("href") == f"{live_server.url}/cart/"
    assert "This needs the facility's operators" in browser.find_element(By.ID, "failure").text
    assert browser.find_element(By.ID, "retry-form").is_displayed()
    assert browser.find_element(By.ID, "heading").text == "Failed: Light curve summary"
