"""What every page of the portal shares (templates/base.html): the way past the navigation, and what a
form just did, said where a screen reader reads it and the keyboard goes on from."""
import re

import pytest
from django.test import Client

from tests.factories import make_dataset, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    client = Client()
    client.force_login(make_user("kim"))
    return client


def messages_region(page: str) -> str:
    [region] = re.findall(r'<div class="messages" id="messages" tabindex="-1">.*?</div>', page, re.S)
    return region


def test_a_confirmation_is_a_status_that_takes_the_focus(client):
    dataset = make_dataset("lightcurves/crab.csv", title="Crab")

    page = client.post("/cart/add/", {"dataset": dataset.pk}, follow=True).content.decode()

    assert '<p class="success" role="status">Added to your cart.' in messages_region(page)
    assert '<script>document.getElementById("messages").focus();</script>' in page


def test_a_refusal_is_an_alert(client):
    page = client.post("/cart/remove/999999/", follow=True).content.decode()

    assert '<p class="error" role="alert">' in messages_region(page)


def test_a_page_without_message_moves_no_focus_and_its_first_link_skips_to_the_content():
    page = Client().get("/datasets/").content.decode()

    assert 'id="messages"' not in page and ".focus()" not in page
    first_link = re.search(r"<body>\s*(<a [^>]*>[^<]*</a>)", page).group(1)
    assert first_link == '<a class="skip" href="#content">Skip to content</a>'
    assert '<main id="content" tabindex="-1">' in page
