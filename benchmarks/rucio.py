"""Rucio staging overhead: a 100-file dataset staged by the portal's staging step (catalogue snapshot →
data-lake configuration → rule → polling with progress events → PFNs mapped onto the mount path) against
the same rucio-clients calls made directly, on the same real Rucio server in the same run.

    .venv/bin/python -m benchmarks.rucio [--runs 5] [--files 100]

Each run replicates a fresh dataset from SITE_A to FACILITY_B through Rucio's own daemons (one cycle a
second, copying mock transfertool), so both sides wait for the same transfers. Prints per-run seconds,
medians and the ratio portal / direct.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(tempfile.mkdtemp(prefix="esap-bench-"))
os.environ.update({"ESAP_DATA_DIR": str(DATA), "DJANGO_SETTINGS_MODULE": "esap.settings",
                   "ESAP_LOG_LEVEL": "WARNING"})
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from staging import services  # noqa: E402
from staging.checkout import steps  # noqa: E402
from staging.checkout.services import checkout_start  # noqa: E402
from staging.checkout.states import State  # noqa: E402
from staging.datalakes import datalake_search  # noqa: E402
from staging.models import DataLake  # noqa: E402
from tests.factories import make_facility, make_user, make_workflow  # noqa: E402
from tests.servers.rucio.clients import client_for  # noqa: E402
from tests.servers.rucio.localrucio import FACILITY_RSE, SCOPE, LocalRucio  # noqa: E402

_sequence = iter(range(1, 10_000))


def new_dataset(server: LocalRucio, files: int) -> str:
    name = f"bench-{next(_sequence)}"
    server.add_dataset(name, {f"{name}.{i:04d}.dat": os.urandom(4096) for i in range(files)})
    return name


def direct(server: LocalRucio, client, name: str) -> float:
    """The calls the portal makes, by hand: rule, poll every 0.2 s until OK, replicas with file PFNs."""
    started = time.perf_counter()
    [rule_id] = client.add_replication_rule([{"scope": SCOPE, "name": name}], 1, FACILITY_RSE, lifetime=3600)
    while (state := client.get_replication_rule(rule_id)["state"]) != "OK":
        assert state == "REPLICATING", state
        time.sleep(0.2)
    replicas = list(client.list_replicas([{"scope": SCOPE, "name": name}], schemes=["file"],
                                         rse_expression=FACILITY_RSE, sort="random"))
    elapsed = time.perf_counter() - started
    assert all(r["pfns"] for r in replicas)
    return elapsed


def through_portal(lake: DataLake, facility, workflow, name: str, files: int) -> float:
    user = make_user(f"bench-{name}")
    [dataset] = datalake_search(slug=lake.slug, scope=SCOPE, name=name)
    services.cart_add_dataset(user=user, dataset_id=dataset.pk)
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk)
    services.cart_choose_facility(user=user, facility_slug=facility.slug, profile_slug="small")
    checkout = checkout_start(user=user)
    started = time.perf_counter()
    result = steps.stage(checkout, steps.Reporter(checkout.pk, State.STAGING, keep_alive=lambda: True))
    elapsed = time.perf_counter() - started
    assert len(result["staged"][0]["files"]) == files
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    server = LocalRucio().start()
    print(f"Rucio up in {time.perf_counter() - started:.1f} s {server.timings}")
    try:
        login = server.portal
        lake = DataLake.objects.create(slug="bench", name="Bench", server_url=server.url,
                                       account=login.account, username=login.username,
                                       password=login.password)
        facility = make_facility("bench", profiles=("small",), staging_mode="rule",
                                 data_rse_expression=FACILITY_RSE,
                                 data_mount_path=str(server.rse_prefix(FACILITY_RSE)))
        workflow = make_workflow()
        client = client_for(server, login)
        datasets = [new_dataset(server, args.files) for _ in range(2 * args.runs + 2)]
        direct(server, client, datasets.pop())  # warm-up: imports, first rule, daemons' caches
        through_portal(lake, facility, workflow, datasets.pop(), args.files)
        bare, portal = [], []
        for _ in range(args.runs):  # interleaved, so drifting load hits both alike
            bare.append(direct(server, client, datasets.pop()))
            portal.append(through_portal(lake, facility, workflow, datasets.pop(), args.files))
        print(f"staging a {args.files}-file dataset by rule, {args.runs} runs each (seconds)")
        print(f"  direct rucio-clients : {' '.join(f'{t:.2f}' for t in bare)}  "
              f"median {statistics.median(bare):.3f}")
        print(f"  esap staging step    : {' '.join(f'{t:.2f}' for t in portal)}  "
              f"median {statistics.median(portal):.3f}")
        print(f"  ratio portal/direct (median): {statistics.median(portal) / statistics.median(bare):.3f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
