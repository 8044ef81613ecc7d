"""A checkout ends with the user's notebook live on the facility's real hub, its first cells run on
their data: the whole pipeline on a real Celery worker."""
import ast
import json

import pytest

from staging.checkout.injection import INJECTED_TAG
from staging.models import Cart
from tests.conftest import HOSTILE_FILE_NAMES, LOCAL_DATA
from tests.factories import make_user, make_workflow
from tests.launching import launch, notebook_with_cells, server_for, wait_for

pytestmark = [pytest.mark.hub, pytest.mark.django_db(transaction=True)]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_checkout_runs_to_ready_with_the_data_injected_and_the_first_cells_executed(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility()

    checkout = wait_for(launch(user, facility=facility,
                               datasets=("lightcurves/crab_pulsar.csv", "lightcurves/vela_pulsar.csv")))

    assert checkout.state == "ready", checkout.error_message
    phases = list(checkout.events.values_list("phase", flat=True))
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "created", "staging", "spawning", "uploading", "executing", "ready"]
    hub_messages = checkout.events.filter(phase="spawning", data__source="hub")
    assert any("Server ready" in event.message for event in hub_messages)
    assert checkout.lab_url == (f"{launch_env.url}/user/{checkout.hub_username}/{checkout.server_name}"
                                f"/lab/tree/esap/{checkout.pk.hex[:12]}/light_curve_summary.ipynb")

    server = server_for(launch_env, checkout)
    saved = server.get_notebook(checkout.remote_path)
    parameters_at = next(i for i, c in enumerate(saved["cells"]) if "parameters" in tags(c))
    injected = saved["cells"][parameters_at + 1]
    assert tags(injected) == [INJECTED_TAG]
    assert saved["metadata"]["esap"]["parameters"]["datasets"] == [
        "lightcurves/crab_pulsar.csv", "lightcurves/vela_pulsar.csv"]
    assert saved["metadata"]["esap"]["parameters"]["dataset_paths"][0] == str(
        LOCAL_DATA / "lightcurves" / "crab_pulsar.csv")
    summary = "".join(o.get("text", "") for o in saved["cells"][parameters_at + 2]["outputs"])
    assert "lightcurves/crab_pulsar.csv: 200 samples" in summary
    assert "lightcurves/vela_pulsar.csv: 200 samples" in summary
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] is not None for c in code] == [True, True, True, False]

    sessions = server.list_sessions()
    assert any(s.path == checkout.remote_path and s.kernel_id == checkout.kernel_id for s in sessions)


def test_a_second_launch_of_the_same_workflow_leaves_the_first_ones_notebook_alone(launch_env, hub_facility):
    user, facility = make_user(), hub_facility()
    workflow = make_workflow(path="light_curve_summary.ipynb", first_cells=3)
    first = wait_for(launch(user, facility=facility, workflow=workflow, datasets=("lightcurves/crab_pulsar.csv",)))
    second = wait_for(launch(user, facility=facility, workflow=workflow, datasets=("lightcurves/vela_pulsar.csv",)))

    assert (first.state, second.state) == ("ready", "ready")
    assert first.remote_path != second.remote_path
    kept = server_for(launch_env, first).get_notebook(first.remote_path)
    assert kept["metadata"]["esap"]["parameters"]["datasets"] == ["lightcurves/crab_pulsar.csv"]


def test_a_notebook_name_with_spaces_and_a_hash_gets_a_working_link(launch_env, hub_facility):
    notebook = notebook_with_cells("print('ran')", first_cells=3)
    workflow = make_workflow(notebook, path="notebooks/my analysis #2.ipynb", first_cells=3)

    checkout = wait_for(launch(make_user(), facility=hub_facility(), workflow=workflow))

    assert checkout.state == "ready", checkout.error_message
    assert checkout.lab_url.endswith(f"/lab/tree/esap/{checkout.pk.hex[:12]}/my%20analysis%20%232.ipynb")
    cells = server_for(launch_env, checkout).get_notebook(checkout.remote_path)["cells"]
    assert any(output.get("text") == "ran\n" for cell in cells for output in cell.get("outputs", []))


def test_the_checkout_records_what_was_launched_and_the_cart_is_consumed(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility()

    checkout = wait_for(launch(user, facility=facility))

    assert checkout.state == "ready"
    assert (checkout.facility_slug, checkout.profile_slug) == (facility.slug, "small")
    assert checkout.workflow_commit == "0123456789abcdef0123456789abcdef01234567"
    assert [d["identifier"] for d in checkout.datasets] == ["lightcurves/crab_pulsar.csv"]
    cart = Cart.objects.get(user=user)
    assert cart.frozen_by is None and not cart.items.exists()


def test_the_cart_is_frozen_while_its_checkout_runs(launch_env, hub_facility):
    from esap.errors import UserError
    from staging import services

    user = make_user()
    checkout = launch(user, facility=hub_facility())

    with pytest.raises(UserError, match="being checked out"):
        services.cart_remove_dataset(user=user, dataset_id=checkout.datasets[0]["id"])
    assert wait_for(checkout).state == "ready"


def test_hostile_dataset_names_reach_the_kernel_as_data_and_execute_nothing(launch_env, hub_facility):
    workflow = make_workflow(notebook_with_cells(
        "import json\nprint(json.dumps({'datasets': datasets, 'paths': dataset_paths}))"),
        path="hostile.ipynb", first_cells=3)
    identifiers = tuple(f"hostile/{name}" for name in HOSTILE_FILE_NAMES)

    checkout = wait_for(launch(facility=hub_facility(), workflow=workflow, datasets=identifiers))

    assert checkout.state == "ready", checkout.error_message
    saved = server_for(launch_env, checkout).get_notebook(checkout.remote_path)
    injected = next(c for c in saved["cells"] if INJECTED_TAG in tags(c))
    assert all(isinstance(node, ast.Assign) for node in ast.parse(injected["source"]).body)
    printed = json.loads(saved["cells"][-1]["outputs"][0]["text"])
    assert printed["datasets"] == list(identifiers)
    assert printed["paths"] == [str(LOCAL_DATA / identifier) for identifier in identifiers]
    assert not list(launch_env.state_dir.rglob("PWNED")) and not list(LOCAL_DATA.rglob("PWNED"))


def test_progress_streams_as_server_sent_events_with_one_terminal_event(launch_env, hub_facility, client):
    user = make_user()
    checkout = wait_for(launch(user, facility=hub_facility()))
    client.force_login(user)

    stream = b"".join(client.get(f"/checkouts/{checkout.pk}/stream/").streaming_content).decode()
    twin = client.get(f"/api/checkouts/{checkout.pk}/events/").json()

    assert stream.count("event: ready") == 1 and stream.count("event: failed") == 0
    assert stream.rstrip().endswith(json.dumps({"event": "ready", "url": checkout.lab_url}))
    assert stream.count("event: progress") == len(twin["events"]) == checkout.events.count()
    assert twin["terminal"] == {"event": "ready", "url": checkout.lab_url}
    later = client.get(f"/api/checkouts/{checkout.pk}/events/", {"after": twin["events"][-2]["id"]}).json()
    assert [e["phase"] for e in later["events"]] == ["ready"]
