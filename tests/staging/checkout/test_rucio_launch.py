"""Rucio end to end: a dataset found in the data lake through the portal goes into the cart; the checkout
replicates it to the facility's RSE with a rule, spawns the server, and the notebook's first cells open
the staged files by their mounted paths. Every Rucio fault ends the checkout failed with the reason, the
cart restored, and a retry that resumes at staging."""
import json

import pytest
from django.utils import timezone
from nbformat.v4 import new_code_cell, new_notebook
from rest_framework.test import APIClient

from facilities.models import Facility
from staging import services
from staging.checkout.services import checkout_start
from staging.models import Cart, Checkout, DataLake
from tests.factories import make_user, make_workflow
from tests.launching import eventually, server_for, wait_for
from tests.servers.rucio.faults import HangingSocket, closed_port_url
from tests.servers.rucio.localrucio import FACILITY_RSE, SCOPE

pytestmark = [pytest.mark.hub, pytest.mark.rucio, pytest.mark.django_db(transaction=True)]

READ_FILES = """\
for dataset in staged_datasets:
    for path in dataset["files"]:
        with open(path) as stream:
            print(dataset["did"], path.rsplit("/", 1)[-1], "->", stream.read().strip())
"""


def data_lake(rucio_server, *, slug: str = "lake", login=None, **fields) -> DataLake:
    login = login or rucio_server.portal
    defaults = {"name": "Local Rucio", "server_url": rucio_server.url, "account": login.account,
                "username": login.username, "password": login.password, "timeout_seconds": 10}
    return DataLake.objects.create(slug=slug, **{**defaults, **fields})


def reading_workflow():
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = new_code_cell("dataset_paths = []\nstaged_datasets = []")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, new_code_cell(READ_FILES), new_code_cell("print('not run')")]
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
    return make_workflow(json.loads(json.dumps(notebook)), path="read_rucio.ipynb", first_cells=3)


def rule_facility(hub_facility, rucio_server, *, deadline: int = 60):
    """`deadline`: how long its checkouts may wait for data. The test worker looks at a rule once per run,
    then hands the checkout back to wait without a worker (ESAP_STAGING_WAIT_SECONDS=0)."""
    facility = hub_facility(staging_mode="rule", data_rse_expression=FACILITY_RSE,
                            data_mount_path=str(rucio_server.rse_prefix(FACILITY_RSE)))
    Facility.objects.filter(pk=facility.pk).update(staging_deadline_seconds=deadline)  # below the admin's 10 s
    facility.refresh_from_db()
    return facility


def search_api(user, lake: DataLake, **body):
    api = APIClient()
    api.force_authenticate(user)
    return api.post(f"/api/datalakes/{lake.slug}/search/", {"scope": SCOPE, **body}, format="json")


def fill_cart_from_lake(user, lake, facility, name: str) -> None:
    found = search_api(user, lake, name=name)
    assert found.status_code == 200, found.json()
    [dataset] = found.json()["results"]
    services.cart_add_dataset(user=user, dataset_id=dataset["id"])
    services.cart_choose_workflow(user=user, workflow_id=reading_workflow().pk)
    services.cart_choose_facility(user=user, facility_slug=facility.slug, profile_slug="small")


def launch_from_lake(user, lake, facility, name: str) -> Checkout:
    fill_cart_from_lake(user, lake, facility, name)
    return checkout_start(user=user)


def assert_failed_at_staging_with_cart_restored(checkout: Checkout, reason: str,
                                                code: str = "staging.failed") -> None:
    """`staging.failed`: the data or the request is at fault; `staging.unavailable`: an outage."""
    assert checkout.state == "failed", checkout.state
    assert (checkout.failed_step, checkout.error_code) == ("staging", code)
    assert reason in checkout.error_message, checkout.error_message
    assert checkout.events.last().phase == "failed" and reason in checkout.events.last().message
    cart = Cart.objects.get(user=checkout.user)
    assert cart.frozen_by is None
    assert [i.dataset_id for i in cart.items.all()] == [d["id"] for d in checkout.datasets]


def launch_a_copy_that_never_ends(hub_facility, rucio_server, rucio_dataset) -> Checkout:
    """A rule whose transfer never finishes (the driver's HANG_MARKER), on a facility that would wait 10 min."""
    name, _ = rucio_dataset({"never-copy.csv": b"stays on SITE_A"})
    facility = rule_facility(hub_facility, rucio_server, deadline=600)
    return launch_from_lake(make_user(), data_lake(rucio_server), facility, name)


def looks_parked(checkout: Checkout):
    return checkout.events.filter(phase="staging", data__has_key="waiting_until")


def cancel(checkout: Checkout) -> str:
    api = APIClient()
    api.force_authenticate(checkout.user)
    return api.post(f"/api/checkouts/{checkout.pk}/cancel/").json()["state"]


def retry(checkout: Checkout) -> Checkout:
    api = APIClient()
    api.force_authenticate(checkout.user)
    assert api.post(f"/api/checkouts/{checkout.pk}/retry/").status_code == 202
    return wait_for(checkout, timeout=180)


def test_a_lake_dataset_is_replicated_and_read_by_the_notebook_by_its_mounted_path(
        launch_env, hub_facility, rucio_server, rucio_dataset):
    name, files = rucio_dataset({"crab.csv": b"t,flux\n0,1.5\n", "vela.csv": b"t,flux\n0,2.5\n"})
    user, lake = make_user(), data_lake(rucio_server)

    facility = rule_facility(hub_facility, rucio_server)

    checkout = wait_for(launch_from_lake(user, lake, facility, name), timeout=180)

    assert checkout.state == "ready", checkout.error_message
    staging = checkout.events.filter(phase="staging", data__source="rucio")
    assert any("Replicated: 2 file(s)" in e.message for e in staging)
    assert checkout.events.filter(phase="staging", data__has_key="waiting_until").exists()  # copied meanwhile
    [staged] = checkout.staged
    assert staged["did"] == f"{SCOPE}:{name}" and len(staged["files"]) == 2
    assert all(f.startswith(str(rucio_server.rse_prefix(FACILITY_RSE))) for f in staged["files"])
    saved = server_for(launch_env, checkout).get_notebook(checkout.remote_path)
    printed = "".join(o.get("text", "") for c in saved["cells"] for o in c.get("outputs", []))
    assert f"{SCOPE}:{name} {files[0]} -> t,flux\n0,1.5" in printed
    assert f"{SCOPE}:{name} {files[1]} -> t,flux\n0,2.5" in printed
    assert saved["metadata"]["esap"]["parameters"]["dataset_paths"] == [staged["location"]]


def test_in_download_mode_the_worker_downloads_into_the_mount_path_and_the_notebook_reads_it(
        launch_env, hub_facility, rucio_server, rucio_dataset, tmp_path):
    name, files = rucio_dataset({"pulsar.csv": b"t,flux\n0,3.5\n"})
    user, lake = make_user(), data_lake(rucio_server)
    facility = hub_facility(staging_mode="download", data_mount_path=str(tmp_path))

    checkout = wait_for(launch_from_lake(user, lake, facility, name), timeout=180)

    assert checkout.state == "ready", checkout.error_message
    [staged] = checkout.staged
    assert staged["files"] == [str(tmp_path / SCOPE / name / files[0])] and "rule_id" not in staged
    saved = server_for(launch_env, checkout).get_notebook(checkout.remote_path)
    printed = "".join(o.get("text", "") for c in saved["cells"] for o in c.get("outputs", []))
    assert f"{SCOPE}:{name} {files[0]} -> t,flux\n0,3.5" in printed


def test_search_api_filters_by_metadata_and_refuses_an_unknown_lake(rucio_server, rucio_dataset):
    tagged, _ = rucio_dataset(prefix="api", metadata={"project": "esap-api"})
    rucio_dataset(prefix="api")
    user, lake = make_user(), data_lake(rucio_server)

    found = search_api(user, lake, name="api-*", metadata={"project": "esap-api"}).json()

    assert [d["title"] for d in found["results"]] == [tagged]
    assert found["results"][0]["metadata"]["instance"] == lake.slug
    assert search_api(user, DataLake(slug="nowhere")).json()["error"] == "datalake.unknown"


def test_the_search_api_says_when_the_lake_is_down(rucio_server):
    user, lake = make_user(), data_lake(rucio_server, server_url=closed_port_url())

    answer = search_api(user, lake, name="*")

    assert answer.status_code == 503 and answer.json()["error"] == "datalake.unavailable"
    assert "could not be reached" in answer.json()["detail"]


# --- faults, each ending failed with the reason, the cart restored, and a retry ------------------------

def test_fault_did_not_found_then_retry_once_it_exists(launch_env, hub_facility, rucio_server, rucio_dataset):
    name, _ = rucio_dataset()
    user, lake = make_user(), data_lake(rucio_server)
    facility = rule_facility(hub_facility, rucio_server)
    checkout = launch_from_lake(user, lake, facility, name)
    # The dataset vanishes from the lake between search and staging: the snapshot names another DID.
    Checkout.objects.filter(pk=checkout.pk).update(datasets=[
        {**checkout.datasets[0], "metadata": {**checkout.datasets[0]["metadata"], "name": f"{name}-gone"}}])

    failed = wait_for(checkout)

    assert_failed_at_staging_with_cart_restored(failed, "no such data identifier")
    rucio_server.add_dataset(f"{name}-gone", {f"{name}-gone.csv": b"back"})
    assert retry(failed).state == "ready"


def test_fault_auth_refused_then_retry_after_the_operator_fixes_the_password(
        launch_env, hub_facility, rucio_server, rucio_dataset):
    name, _ = rucio_dataset()
    user, lake = make_user(), data_lake(rucio_server)
    checkout = launch_from_lake(user, lake, rule_facility(hub_facility, rucio_server), name)
    lake.password = "a-wrong-password"
    lake.save()

    failed = wait_for(checkout)

    assert_failed_at_staging_with_cart_restored(failed, "refused the portal's login", "staging.unavailable")
    assert "a-wrong-password" not in failed.error_message
    lake.password = rucio_server.portal.password
    lake.save()
    assert retry(failed).state == "ready"


@pytest.mark.parametrize("fault, reason", [("down", "could not be reached"),
                                           ("hanging", "did not answer within 2 s")])
def test_fault_rucio_down_or_hanging(launch_env, hub_facility, rucio_server, rucio_dataset, fault, reason):
    name, _ = rucio_dataset()
    user, lake = make_user(), data_lake(rucio_server)
    fill_cart_from_lake(user, lake, rule_facility(hub_facility, rucio_server), name)
    with HangingSocket() as hanging:
        lake.server_url = closed_port_url() if fault == "down" else hanging.url
        lake.timeout_seconds = 2
        lake.save()
        failed = wait_for(checkout_start(user=user))
    assert_failed_at_staging_with_cart_restored(failed, reason, "staging.unavailable")


def test_an_outage_of_the_lake_while_a_rule_copies_is_waited_out_not_a_failure(
        launch_env, hub_facility, rucio_server, rucio_dataset):
    checkout = launch_a_copy_that_never_ends(hub_facility, rucio_server, rucio_dataset)
    waits = looks_parked(checkout)
    eventually(waits.exists, timeout=90)
    lake = DataLake.objects.get(slug="lake")
    working_url = lake.server_url

    lake.server_url, lake.timeout_seconds = closed_port_url(), 2
    lake.save()
    eventually(lambda: "could not be reached" in waits.last().message, timeout=60)
    checkout.refresh_from_db()
    assert checkout.state == "staging"
    lake.server_url = working_url
    lake.save()

    eventually(lambda: waits.last().message.startswith("Replicating: 0 of 1 file(s)"), timeout=60)
    assert cancel(checkout) == "cancelled"


def test_fault_rule_stuck_after_failed_copies(launch_env, hub_facility, rucio_server, rucio_dataset):
    name, _ = rucio_dataset({"fail-copy.csv": b"never arrives"})
    user, lake = make_user(), data_lake(rucio_server)

    facility = rule_facility(hub_facility, rucio_server, deadline=90)

    failed = wait_for(launch_from_lake(user, lake, facility, name),
                      timeout=120)

    assert_failed_at_staging_with_cart_restored(failed, "is STUCK")
    assert "fail-copy" in failed.error_message


def test_fault_rule_never_completing_before_the_facility_deadline(launch_env, hub_facility, rucio_server,
                                                                  rucio_dataset):
    name, _ = rucio_dataset({"never-copy.csv": b"stays on SITE_A"})
    user, lake = make_user(), data_lake(rucio_server)

    facility = rule_facility(hub_facility, rucio_server, deadline=3)

    failed = wait_for(launch_from_lake(user, lake, facility, name))

    assert_failed_at_staging_with_cart_restored(failed, "still REPLICATING after 3 s")
    progress = failed.events.filter(phase="staging", data__source="rucio", data__replicating=1)
    assert progress.exists()


def test_while_a_rule_copies_the_checkout_waits_without_a_worker_and_later_runs_look_again(
        launch_env, hub_facility, rucio_server, rucio_dataset):
    checkout = launch_a_copy_that_never_ends(hub_facility, rucio_server, rucio_dataset)
    waits = looks_parked(checkout)

    eventually(lambda: waits.count() >= 3, timeout=90)

    def parked() -> bool:
        checkout.refresh_from_db()
        return (checkout.state, checkout.leased_by) == ("staging", "") and checkout.lease_until > timezone.now()
    eventually(parked, timeout=30)
    assert waits.last().message.startswith("Replicating: 0 of 1 file(s) on the facility's storage; looking again in")
    told = checkout.events.filter(phase="staging", data__source="rucio")
    assert told.filter(data__has_key="rules").count() == 1  # the rule, said once
    assert told.filter(data__has_key="replicating").count() == 1  # and its unchanging counts, once
    name = checkout.datasets[0]["metadata"]["name"]
    rules = [r for r in rucio_server.client().list_did_rules(SCOPE, name) if r["rse_expression"] == FACILITY_RSE]
    assert len(rules) == 1  # every run found the rule the first one made
    assert cancel(checkout) == "cancelled"


def test_fault_quota_exceeded(launch_env, hub_facility, rucio_server, rucio_dataset):
    name, _ = rucio_dataset({"big.csv": b"more than the one byte allowed"})
    user, lake = make_user(), data_lake(rucio_server, login=rucio_server.tight)

    failed = wait_for(launch_from_lake(user, lake, rule_facility(hub_facility, rucio_server), name))

    assert_failed_at_staging_with_cart_restored(failed, "quota is exceeded")


def test_cancelling_while_a_rule_replicates_frees_the_worker_long_before_the_deadline(
        launch_env, hub_facility, rucio_server, rucio_dataset):
    checkout = launch_a_copy_that_never_ends(hub_facility, rucio_server, rucio_dataset)
    replicating = checkout.events.filter(phase="staging", data__source="rucio", data__replicating=1)
    eventually(replicating.exists, timeout=90)

    assert cancel(checkout) == "cancelled"
    cancelled = checkout.events.last()

    # The step notices at its next progress report (at least every 10 s) and lets go of the checkout.
    eventually(lambda: Checkout.objects.get(pk=checkout.pk).leased_by == "", timeout=30)
    checkout.refresh_from_db()
    assert checkout.state == "cancelled"
    assert not checkout.events.filter(pk__gt=cancelled.pk).exists()


@pytest.mark.vo
def test_vo_datasets_in_the_cart_of_a_parked_copy_are_not_resolved_again_at_every_look(
        launch_env, hub_facility, rucio_server, rucio_dataset, vo_server):
    from staging.models import VOService
    from tests.staging.checkout.test_launch_vo import cart_from_a_vo_search

    name, _ = rucio_dataset({"never-copy.csv": b"stays on SITE_A"})
    user = make_user()
    cart_from_a_vo_search(user, VOService.objects.create(name="Fixture TAP", slug="fixture-tap",
                                                         url=vo_server.tap_url))
    fill_cart_from_lake(user, data_lake(rucio_server), rule_facility(hub_facility, rucio_server, deadline=600),
                        name)
    checkout = checkout_start(user=user)
    assert [d["source"] for d in checkout.datasets] == ["vo", "vo", "rucio"]  # the VO data is staged first

    eventually(lambda: looks_parked(checkout).count() >= 3, timeout=90)
    assert cancel(checkout) == "cancelled"

    resolved = checkout.events.filter(phase="staging", data__source="vo", message__startswith="Resolving")
    assert resolved.count() == 1  # at the first look, which checks the VO data before the long wait
    assert set(looks_parked(checkout).values_list("data__waiting_on", flat=True)) == {"rucio"}
