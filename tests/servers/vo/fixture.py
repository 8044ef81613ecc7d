"""The suite's one real VO server (GAVO DaCHS): started once per run, stopped at the end.

ESAP_VO_BASE_URL reuses a server already running (e.g. `python -m tests.servers.vo.dachs`)."""
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.servers.jupyterhub.localhub import kill_processes_under
from tests.servers.vo.dachs import LocalDaCHS, VOEndpoints, missing


@dataclass(frozen=True)
class VOServer(VOEndpoints):
    url: str
    timings: dict


@pytest.fixture(scope="session")
def vo_server() -> Iterator[VOServer]:
    """A running DaCHS: `url` (http://localhost:<port>, the host name in every URL it writes), `tap_url`,
    `sia2_url`, `registry_url`, and the start-up `timings` in seconds."""
    if reused := os.environ.get("ESAP_VO_BASE_URL"):
        yield VOServer(reused.rstrip("/"), {})
        return
    if reason := missing():
        pytest.skip(reason)
    server = LocalDaCHS().start()
    print(f"\nDaCHS VO fixture up in {server.timings['total']:.1f} s: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in server.timings.items() if k != "total"))
    yield VOServer(server.url, dict(server.timings))
    server.stop()
    kill_processes_under(server.state)  # safety net, by PID: anything still working in its state dir
