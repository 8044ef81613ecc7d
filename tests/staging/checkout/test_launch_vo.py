"""From a VO search to a live notebook: search the real DaCHS, add results to the cart, check out on the
real hub with the real worker; the demo notebook's first cell opens each FITS image by its resolved DataLink
`#this` URL with astropy. A DataLink service that is down fails the staging step with its cause."""
import socket

import pytest

from staging import services
from staging.checkout.services import checkout_start
from staging.models import Cart, VOService
from staging.vo_services import vo_cart_add, vo_search
from tests.factories import make_dataset, make_user, make_workflow
from tests.launching import local_dataset, notebook_with_cells, server_for, wait_for

pytestmark = [pytest.mark.hub, pytest.mark.vo, pytest.mark.django_db(transaction=True)]

FIELD_A_V = "ivo://test.portal.local/~?vofix/data/field-a-v.fits"
FIELD_A_R = "ivo://test.portal.local/~?vofix/data/field-a-r.fits"
def choose(user, facility) -> None:
    workflow = make_workflow(path="open_vo_images.ipynb", first_cells=3)  # the demo's notebook
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk)
    services.cart_choose_facility(user=user, facility_slug=facility.slug, profile_slug="small")


def cart_from_a_vo_search(user, tap) -> None:
    query = {"ra": "10", "dec": "20", "radius": "0.2"}
    for row in vo_search(service=tap, params=query).page.rows:
        vo_cart_add(user=user, service=tap, publisher_did=row.publisher_did, params=query)


def test_vo_search_to_a_notebook_that_opens_the_fits_images_by_url(launch_env, hub_facility, vo_server):
    user, facility = make_user(), hub_facility()
    cart_from_a_vo_search(user, VOService.objects.create(name="Fixture TAP", slug="fixture-tap",
                                                         url=vo_server.tap_url))
    choose(user, facility)

    checkout = wait_for(checkout_start(user=user), timeout=180)

    assert checkout.state == "ready", checkout.error_message
    assert any("Resolving 2 DataLink(s)" in e.message for e in checkout.events.filter(phase="staging"))
    saved = server_for(launch_env, checkout).get_notebook(checkout.remote_path)
    printed = "".join(o.get("text", "") for o in saved["cells"][-1]["outputs"])
    assert f"{FIELD_A_R}: Field A R (20, 20)" in printed and f"{FIELD_A_V}: Field A V (20, 20)" in printed
    assert f"opened {vo_server.url}/getproduct/vofix/data/field-a-r.fits" in printed
    assert f"from {vo_server.tap_url} with {{'ra': 10.0, 'dec': 20.0, 'radius': 0.2}}" in printed
    staged = saved["metadata"]["esap"]["parameters"]["staged_datasets"]  # the notebook keeps the provenance
    assert [s["urls"] for s in staged] == [[f"{vo_server.url}/getproduct/vofix/data/field-a-r.fits"],
                                           [f"{vo_server.url}/getproduct/vofix/data/field-a-v.fits"]]
    assert all(s["provenance"]["service_url"] == vo_server.tap_url and
               s["provenance"]["query"] == {"ra": 10.0, "dec": 20.0, "radius": 0.2} for s in staged)


def test_a_download_facility_gets_copies_in_its_storage_and_the_notebook_opens_them(
        launch_env, hub_facility, vo_server, tmp_path):
    user, facility = make_user(), hub_facility(staging_mode="download", data_mount_path=str(tmp_path))
    cart_from_a_vo_search(user, VOService.objects.create(name="Fixture TAP", slug="fixture-tap",
                                                         url=vo_server.tap_url))
    choose(user, facility)

    checkout = wait_for(checkout_start(user=user), timeout=180)

    assert checkout.state == "ready", checkout.error_message
    copies = sorted((tmp_path / "vo").iterdir())
    assert [p.name.split("-", 1)[1] for p in copies] in (["field-a-r.fits", "field-a-v.fits"],
                                                          ["field-a-v.fits", "field-a-r.fits"])
    assert all(p.read_bytes().startswith(b"SIMPLE") for p in copies)
    saved = server_for(launch_env, checkout).get_notebook(checkout.remote_path)
    assert sorted(saved["metadata"]["esap"]["parameters"]["dataset_paths"]) == [str(p) for p in copies]
    printed = "".join(o.get("text", "") for o in saved["cells"][-1]["outputs"])
    assert all(f"opened {p}" in printed for p in copies) and "Field A R (20, 20)" in printed


def test_fault_datalink_service_down_fails_staging_with_the_cause_and_keeps_the_cart(launch_env,
                                                                                      hub_facility):
    user, facility = make_user(), hub_facility()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    dataset = make_dataset(FIELD_A_V, source="vo", metadata={
        "publisher_did": FIELD_A_V, "datalink_url": f"http://127.0.0.1:{closed}/dlmeta"})
    services.cart_add_dataset(user=user, dataset_id=dataset.pk)
    choose(user, facility)

    checkout = wait_for(checkout_start(user=user))

    assert (checkout.state, checkout.failed_step) == ("failed", "staging")
    assert FIELD_A_V in checkout.error_message and "could not be reached" in checkout.error_message
    assert "could not be staged now" in checkout.error_message  # an outage (staging.unavailable)
    cart = Cart.objects.get(user=user)
    assert cart.frozen_by is None and list(cart.items.values_list("dataset_id", flat=True)) == [dataset.pk]


def test_datasets_of_several_sources_reach_the_notebook_with_their_paths_in_cart_order(launch_env, hub_facility,
                                                                                      vo_server):
    user, facility = make_user(), hub_facility()
    services.cart_add_dataset(user=user, dataset_id=local_dataset("lightcurves/crab_pulsar.csv").pk)
    cart_from_a_vo_search(user, VOService.objects.create(name="Fixture TAP", slug="fixture-tap",
                                                         url=vo_server.tap_url))
    services.cart_add_dataset(user=user, dataset_id=local_dataset("lightcurves/vela_pulsar.csv").pk)
    workflow = make_workflow(notebook_with_cells("print(len(datasets), len(dataset_paths))", first_cells=3),
                             path="pairs.ipynb", first_cells=3)
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk)
    services.cart_choose_facility(user=user, facility_slug=facility.slug, profile_slug="small")

    checkout = wait_for(checkout_start(user=user), timeout=180)

    assert checkout.state == "ready", checkout.error_message
    parameters = server_for(launch_env, checkout).get_notebook(checkout.remote_path)["metadata"]["esap"]["parameters"]
    pairs = list(zip(parameters["datasets"], parameters["dataset_paths"], strict=True))
    assert [identifier for identifier, _ in pairs] == [d["identifier"] for d in checkout.datasets]
    assert pairs[0][1].endswith("lightcurves/crab_pulsar.csv") and pairs[3][1].endswith("lightcurves/vela_pulsar.csv")
    assert [path.rsplit("/", 1)[-1] for _, path in pairs[1:3]] == [
        identifier.rsplit("/", 1)[-1] for identifier, _ in pairs[1:3]]  # each VO image's own URL
