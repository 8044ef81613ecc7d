"""Launch overhead: the checkout pipeline (portal → broker → worker → hub) against the bare sequence of
hub calls it makes, on the same real hub in the same run.

    .venv/bin/python -m benchmarks.launch [--runs 5] [--concurrent 5]

Prints per-run seconds, medians and the ratio pipeline / bare, then N concurrent checkouts against N
concurrent bare launches (wall time until all are ready).
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

DATA = Path(tempfile.mkdtemp(prefix="esap-bench-"))
os.environ.update({"ESAP_DATA_DIR": str(DATA), "DJANGO_SETTINGS_MODULE": "esap.settings",
                   "ESAP_ALLOW_PRIVATE_URLS": "true", "ESAP_LOG_LEVEL": "WARNING"})
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from facilities.hub.client import HubClient  # noqa: E402
from facilities.hub.server import ServerClient  # noqa: E402
from staging.checkout.injection import apply_outputs, code_cells_to_execute, inject_parameters  # noqa: E402
from staging.checkout.states import TERMINAL  # noqa: E402
from staging.sources.base import DatasetRef  # noqa: E402
from staging.sources.local import local_source  # noqa: E402
from tests.factories import make_facility, make_user, make_workflow  # noqa: E402
from tests.launching import fill_cart  # noqa: E402
from tests.servers.jupyterhub.localhub import LocalHub  # noqa: E402
from tests.servers.worker import Worker  # noqa: E402

DATASET = "lightcurves/crab_pulsar.csv"
_sequence = iter(range(1, 10_000))


def bare_launch(hub: LocalHub, workflow) -> float:
    """What the pipeline does, as direct calls: user, spawn, progress, token, upload, kernel, cells."""
    client, user, server = HubClient(hub.url, hub.service_token), f"bare-{next(_sequence)}", "run"
    path = local_source.stage([DatasetRef(DATASET)])[0].location
    started = time.perf_counter()
    client.ensure_user(user)
    client.start_server(user, server, {"profile": "small"})
    for _ in client.follow_progress(user, server, deadline_seconds=120):
        pass
    token = client.mint_server_token(user, server)
    notebook = inject_parameters(workflow.notebook, {"datasets": [DATASET], "dataset_paths": [path]},
                                 declared=workflow.parameter_names)
    remote = ServerClient(hub.url, user, server, token.token)
    remote.wait_until_reachable()
    remote.ensure_directory("esap")
    remote.put_notebook("esap/bench.ipynb", notebook)
    session = remote.create_session("esap/bench.ipynb", "python3")
    indexes = code_cells_to_execute(notebook, workflow.first_cells)
    results = remote.execute(session.kernel_id, session.session_id,
                             ["".join(notebook["cells"][i]["source"]) for i in indexes])
    remote.put_notebook("esap/bench.ipynb", apply_outputs(
        notebook, {i: (r.execution_count, r.outputs) for i, r in zip(indexes, results)}))
    client.revoke_token(user, token.token_id)
    elapsed = time.perf_counter() - started
    client.stop_server(user, server)
    return elapsed


def pipeline_launch(hub: LocalHub, facility, workflow) -> float:
    from staging.checkout.services import checkout_start

    user = make_user(f"piped-{next(_sequence)}")
    fill_cart(user, facility=facility, workflow=workflow, datasets=(DATASET,))
    started = time.perf_counter()
    checkout = checkout_start(user=user)
    while checkout.state not in TERMINAL:
        time.sleep(0.05)  # coarse on purpose: with N launches polling, finer steals the CPU being measured
        checkout.refresh_from_db(fields=["state"])
    elapsed = time.perf_counter() - started
    checkout.refresh_from_db()
    assert checkout.state == "ready", checkout.error_message
    HubClient(hub.url, hub.service_token).stop_server(checkout.hub_username, checkout.server_name)
    return elapsed


def concurrently(count: int, launch) -> tuple[float, list[str]]:
    """Wall seconds until all `count` launches ended, and the failures' reasons (a failure is counted
    and reported, not hidden: under saturation the hub itself refuses some)."""
    errors: list[str] = []

    def run() -> None:
        try:
            launch()
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(f"{type(error).__name__}: {str(error)[:200]}")
        finally:
            django.db.connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=5)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    from django.conf import settings
    hub = LocalHub(http_timeout=300, start_timeout=600).start()
    worker = Worker(database=f"sqlite:///{settings.DATABASES['default']['NAME']}", broker_folder=DATA / "broker",
                    log_path=DATA / "worker.log", env={"ESAP_ALLOW_PRIVATE_URLS": "true"},
                    concurrency=max(8, args.concurrent))
    worker.start()
    try:
        facility = make_facility("bench", hub_url=hub.url, token=hub.service_token, profiles=("small",))
        workflow = make_workflow(path="light_curve_summary.ipynb", first_cells=3)
        report(hub, facility, workflow, args.runs, args.concurrent)
    finally:
        worker.stop()
        hub.stop()


def report(hub, facility, workflow, runs: int, concurrent: int) -> None:
    bare_launch(hub, workflow)  # warm-up: imports, kernel spec caches, first-spawn costs
    pipeline_launch(hub, facility, workflow)
    bare, piped = [], []
    for _ in range(runs):  # interleaved, so drifting load hits both alike
        bare.append(bare_launch(hub, workflow))
        piped.append(pipeline_launch(hub, facility, workflow))
    print(f"sequential launches, {runs} each (seconds)")
    print(f"  bare hub calls : {' '.join(f'{t:.2f}' for t in bare)}  median {statistics.median(bare):.3f}")
    print(f"  esap pipeline  : {' '.join(f'{t:.2f}' for t in piped)}  median {statistics.median(piped):.3f}")
    print(f"  ratio pipeline/bare (median): {statistics.median(piped) / statistics.median(bare):.3f}"
          f"   (target <= 1.10)")
    wall_bare, bare_errors = concurrently(concurrent, lambda: bare_launch(hub, workflow))
    wall_piped, piped_errors = concurrently(concurrent, lambda: pipeline_launch(hub, facility, workflow))
    print(f"{concurrent} concurrent launches (wall seconds until all ended)")
    print(f"  bare hub calls : {wall_bare:.2f}   ready {concurrent - len(bare_errors)}/{concurrent}")
    print(f"  esap pipeline  : {wall_piped:.2f}   ready {concurrent - len(piped_errors)}/{concurrent}")
    print(f"  ratio pipeline/bare: {wall_piped / wall_bare:.3f}")
    for side, errors in (("bare", bare_errors), ("pipeline", piped_errors)):
        for error in errors:
            print(f"  {side} failure: {error}")


if __name__ == "__main__":
    main()
