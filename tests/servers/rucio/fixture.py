"""The suite's one real Rucio server: started once per run, stopped at the end."""
import itertools
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.secret_watch import register_secrets
from tests.servers.rucio.localrucio import INSTALL, LocalRucio
from tests.servers.stack import available as postgres_missing


@pytest.fixture(scope="session")
def rucio_server() -> Iterator[LocalRucio]:
    """A running LocalRucio: `url`, `root` / `portal` / `tight` logins, `rse_prefix(rse)`,
    `add_dataset(...)`, `client(login)`, `timings`. A lone `pytest` installs the server first (instant
    once done). Without PostgreSQL (a normal user without sudo) the Rucio tests are skipped."""
    missing = postgres_missing()
    if missing and "redis" not in missing:
        pytest.skip(f"Rucio needs PostgreSQL: {missing} (bin/dev test installs it as root)")
    installed = subprocess.run(["bash", str(INSTALL)], check=False, capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.fail(f"{INSTALL} failed:\n{installed.stderr[-3000:]}", pytrace=False)
    started = time.monotonic()
    try:
        server = LocalRucio().start()
    except RuntimeError as error:
        if os.environ.get("ESAP_RUCIO_SKIP_IF_BROKEN"):
            pytest.skip(f"the Rucio server did not start: {error}")
        raise
    server.timings["total"] = round(time.monotonic() - started, 2)
    register_secrets(*(login.password for login in (server.root, server.portal, server.tight)))
    yield server
    server.stop()


_datasets = itertools.count(1)


@pytest.fixture
def rucio_dataset(rucio_server):
    """Builds a dataset `portal:<prefix>-<n>` on SITE_A: `files` maps file names (made unique) to contents.
    Returns (dataset name, [file names])."""
    def build(files: dict[str, bytes] | None = None, *, prefix: str = "ds",
              **options) -> tuple[str, list[str]]:
        n = next(_datasets)
        name = f"{prefix}-{os.getpid()}-{n}"
        files = files or {"data.csv": b"x,y\n1,2\n"}
        unique = {f"{name}.{file_name}": content for file_name, content in files.items()}
        return name, rucio_server.add_dataset(name, unique, **options)
    return build
