"""Operators register data lakes (Rucio instances) with a write-only, encrypted password; users search a
lake from a page or the REST API, and what is found becomes catalogue datasets they can put in the cart."""
import io
import re
import threading
from html import unescape

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from staging.datalakes import datalake_instance, datalake_search
from staging.models import DataLake, Dataset
from staging.selectors import dataset_list
from staging.services import datasets_upsert
from staging.sources.base import DatasetRecord
from tests.factories import make_user
from tests.servers.rucio.localrucio import SCOPE

pytestmark = pytest.mark.django_db


def lake_form(**overrides) -> dict:
    form = {"name": "ESCAPE", "slug": "escape", "server_url": "https://rucio.example.org", "auth_url": "",
            "account": "esap", "vo": "def", "auth_type": "userpass", "username": "esap-portal",
            "password": "lake-PASSWORD-1", "timeout_seconds": "30", "request_retries": "3",
            "rule_lifetime_seconds": "86400"}
    return {**form, **overrides}


def test_admin_adds_a_lake_with_an_encrypted_password_that_it_never_shows_again(admin_client_logged_in):
    assert admin_client_logged_in.post("/admin/staging/datalake/add/", lake_form()).status_code == 302
    lake = DataLake.objects.get(slug="escape")
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM staging_datalake WHERE id = %s", [lake.pk])
        assert "lake-PASSWORD-1" not in cursor.fetchone()[0]

    page = admin_client_logged_in.get(f"/admin/staging/datalake/{lake.pk}/change/").content.decode()
    assert "lake-PASSWORD-1" not in page
    admin_client_logged_in.post(f"/admin/staging/datalake/{lake.pk}/change/",
                                lake_form(name="Renamed", password=""))
    lake.refresh_from_db()
    assert lake.name == "Renamed" and lake.password == "lake-PASSWORD-1"


def test_the_adapter_configuration_hides_the_password_and_changes_token_cache_with_the_login():
    lake = DataLake.objects.create(**{k: v for k, v in lake_form().items() if k != "auth_url"})
    before = datalake_instance(slug="escape")
    lake.password = "rotated"
    lake.save()
    after = datalake_instance(slug="escape")

    assert "lake-PASSWORD-1" not in repr(before)
    assert before.token_dir != after.token_dir and "rotated" not in after.token_dir
    with pytest.raises(LookupError):
        datalake_instance(slug="nowhere")


def test_only_logged_in_users_reach_lake_search():
    assert APIClient().get("/api/datalakes/").status_code in (401, 403)
    assert APIClient().post("/api/datalakes/escape/search/", {"scope": "x"}).status_code in (401, 403)
    assert Client().get("/datasets/lake/").status_code == 302


def test_a_search_brings_what_the_lake_says_now_into_the_catalogue_keeping_the_entries_it_had(monkeypatch):
    """Found again, a dataset keeps its catalogue entry (its id, carts holding it, when it was first seen)
    with the lake's description of now, searchable by its new words; the results keep the lake's order."""
    def found(*records: tuple[str, str]) -> None:
        monkeypatch.setattr("staging.datalakes.rucio.search", lambda instance, **search: [
            DatasetRecord(source="rucio", identifier=f"lake/user.alice:{name}", title=title,
                          size_bytes=len(title), metadata={"scope": "user.alice", "name": name})
            for name, title in records])

    DataLake.objects.create(slug="lake", name="Lake", server_url="https://rucio.example.org", account="esap")
    found(("crab", "Crab light curve"), ("vela", "Vela light curve"))
    first = {d.identifier: d for d in datalake_search(slug="lake", scope="user.alice")}
    found(("vela", "Vela spectrum"), ("geminga", "Geminga light curve"), ("vela", "Vela spectrum, again"))

    again = datalake_search(slug="lake", scope="user.alice")

    assert [d.title for d in again] == ["Vela spectrum, again", "Geminga light curve", "Vela spectrum, again"]
    vela = Dataset.objects.get(identifier="lake/user.alice:vela")
    assert (vela.pk, vela.created_at) == (first[vela.identifier].pk, first[vela.identifier].created_at)
    assert (vela.title, vela.size_bytes) == ("Vela spectrum, again", len("Vela spectrum, again"))
    assert again[0].pk == again[2].pk == vela.pk
    assert [d.identifier for d in dataset_list(query="spectrum")] == ["lake/user.alice:vela"]
    assert {d.identifier for d in dataset_list(query="curve")} == {"lake/user.alice:crab",
                                                                   "lake/user.alice:geminga"}
    assert Dataset.objects.filter(source="rucio").count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_searches_writing_the_same_datasets_at_once_in_opposite_orders_both_succeed():
    """On PostgreSQL each upsert locks the rows it updates; taken in the results' order, two searches
    finding the same datasets in opposite orders would each wait for the other (a deadlock: one fails).
    On SQLite writers take turns, so this holds there by construction."""
    records = [DatasetRecord(source="rucio", identifier=f"lake/user.alice:file-{number:03d}", title=f"File {number}")
               for number in range(300)]
    datasets_upsert(records=records)
    together, failures = threading.Barrier(2), []

    def search_writes(found: list[DatasetRecord]) -> None:
        try:
            for _ in range(3):
                together.wait(timeout=30)
                datasets_upsert(records=found)
        except Exception as error:  # noqa: BLE001 - what the search would have answered
            failures.append(repr(error))
            together.abort()  # the other writer stops waiting for this one
        finally:
            connection.close()

    writers = [threading.Thread(target=search_writes, args=(found,)) for found in (records, records[::-1])]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert failures == []
    assert Dataset.objects.filter(source="rucio").count() == 300


def test_the_search_api_refuses_malformed_input():
    api = APIClient()
    api.force_authenticate(make_user())
    DataLake.objects.create(slug="escape", name="E", server_url="http://127.0.0.1:9", account="esap")

    answer = api.post("/api/datalakes/escape/search/", {"scope": "bad scope!", "name": "a/b", "limit": 1000},
                      format="json")

    assert answer.status_code == 400 and {"scope", "name", "limit"} <= answer.json()["fields"].keys()


@pytest.mark.parametrize("form, reason", [
    ({"scope": "bad scope!"}, "a scope is 1 to 25 letters"),
    ({"scope": "user.alice", "name": "a/b"}, "a name pattern is up to 250"),
    ({"scope": "user.alice", "metadata": "name=secret-*"}, "&#x27;name&#x27; is not a metadata key"),
    ({"scope": "user.alice", "metadata": "run number=1"}, "&#x27;run number&#x27; is not a metadata key"),
])
def test_the_search_page_refuses_what_the_api_refuses_without_calling_the_lake(form, reason):
    DataLake.objects.create(slug="escape", name="E", server_url="http://127.0.0.1:9", account="esap")
    client = Client()
    client.force_login(make_user())

    page = client.get("/datasets/lake/", {"lake": "escape", "name": "*", "metadata": "", **form})

    html = page.content.decode()
    assert page.status_code == 400
    assert "This search cannot be sent to the data lake" in html and reason in html
    assert not Dataset.objects.exists()


@pytest.mark.rucio
@pytest.mark.django_db(transaction=True)
def test_the_search_page_lists_what_it_found_with_add_to_cart_buttons(rucio_server, rucio_dataset):
    name, _ = rucio_dataset(prefix="page")
    DataLake.objects.create(slug="lake", name="Local Rucio", server_url=rucio_server.url,
                            account=rucio_server.portal.account, username=rucio_server.portal.username,
                            password=rucio_server.portal.password)
    client = Client()
    client.force_login(make_user())

    page = client.get("/datasets/lake/", {"lake": "lake", "scope": SCOPE, "name": name, "metadata": ""})

    dataset = Dataset.objects.get(source="rucio", identifier=f"lake/{SCOPE}:{name}")
    html = page.content.decode()
    assert f"{SCOPE}:{name}" in html and f'name="dataset" value="{dataset.pk}"' in html
    bad = client.get("/datasets/lake/", {"lake": "lake", "scope": SCOPE, "metadata": "no equals sign"})
    assert "key=value" in bad.content.decode()


@pytest.mark.rucio
@pytest.mark.django_db(transaction=True)
def test_adding_a_result_to_the_cart_comes_back_to_the_same_results(rucio_server, rucio_dataset):
    first, _ = rucio_dataset(prefix="again")
    second, _ = rucio_dataset(prefix="again")
    DataLake.objects.create(slug="lake", name="Local Rucio", server_url=rucio_server.url,
                            account=rucio_server.portal.account, username=rucio_server.portal.username,
                            password=rucio_server.portal.password)
    client = Client()
    client.force_login(make_user())
    this_run = first.rsplit("-", 1)[0] + "-*"
    search = client.get("/datasets/lake/", {"lake": "lake", "scope": SCOPE, "name": this_run, "metadata": ""})
    add = search.content.decode().split(f'data-dataset="lake/{SCOPE}:{first}"')[0].rsplit("<form", 1)[1]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', unescape(add)))

    back = client.post("/cart/add/", fields, follow=True)

    page = back.content.decode()
    assert back.redirect_chain[0][0].startswith("/datasets/lake/?") and 'name="scope" value="' + SCOPE in page
    assert f'data-dataset="lake/{SCOPE}:{second}"' in page  # the other result, ready to add too
    assert "Added to your cart." in page and "In your cart" in page


@pytest.mark.rucio
@pytest.mark.django_db(transaction=True)
def test_operators_import_from_the_command_line(rucio_server, rucio_dataset):
    name, _ = rucio_dataset(prefix="cmd", metadata={"datatype": "CMD"})
    DataLake.objects.create(slug="lake", name="Local Rucio", server_url=rucio_server.url,
                            account=rucio_server.portal.account, username=rucio_server.portal.username,
                            password=rucio_server.portal.password)
    out = io.StringIO()

    call_command("datalake_import", "lake", "--scope", SCOPE, "--name", "cmd-*", "--meta", "datatype=CMD",
                 stdout=out)

    assert f"lake/{SCOPE}:{name}" in out.getvalue()
    assert Dataset.objects.filter(source="rucio", identifier=f"lake/{SCOPE}:{name}").exists()
