"""Building carts and waiting for checkouts that run on the real worker against the real hub."""
import json
import time

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from facilities.hub.client import HubClient
from facilities.hub.server import ServerClient
from staging import services
from staging.checkout.services import checkout_start
from staging.checkout.states import TERMINAL
from staging.models import Checkout
from staging.sources.local import local_source
from tests.factories import make_dataset, make_user, make_workflow


def local_dataset(identifier: str):
    record = next(r for r in local_source.scan() if r.identifier == identifier)
    return make_dataset(record.identifier, title=record.title, size_bytes=record.size_bytes)


def fill_cart(user, *, facility, profile: str = "small", workflow=None,
              datasets: tuple[str, ...] = ("lightcurves/crab_pulsar.csv",)):
    for identifier in datasets:
        services.cart_add_dataset(user=user, dataset_id=local_dataset(identifier).pk)
    workflow = workflow or make_workflow(path="light_curve_summary.ipynb", first_cells=3)
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk)
    services.cart_choose_facility(user=user, facility_slug=facility.slug, profile_slug=profile)
    return workflow


def launch(user=None, **cart) -> Checkout:
    user = user or make_user()
    fill_cart(user, **cart)
    return checkout_start(user=user)


def wait_for(checkout: Checkout, states=TERMINAL, timeout: float = 120.0) -> Checkout:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkout.refresh_from_db()
        if checkout.state in states:
            return checkout
        time.sleep(0.1)
    raise AssertionError(f"checkout still {checkout.state} after {timeout} s: "
                         f"{list(checkout.events.values_list('phase', 'message'))}")


def eventually(condition, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.2)


def notebook_with_cells(*sources: str, first_cells: int | None = None) -> dict:
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = new_code_cell('datasets = []\ndataset_paths = []\nfacility = ""\nprofile = ""')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [new_markdown_cell("# Test workflow"), parameters] + [new_code_cell(s) for s in sources]
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
    return json.loads(json.dumps(notebook))


def server_for(hub, checkout: Checkout) -> ServerClient:
    """The checkout's server, reached with the hub's service token (it has access:servers)."""
    return ServerClient(hub.url, checkout.hub_username, checkout.server_name, hub.service_token)


def hub_client(hub) -> HubClient:
    return HubClient(hub.url, hub.service_token)
