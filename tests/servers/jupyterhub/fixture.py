"""The suite's one real JupyterHub: started once per run, stopped at the end."""
import subprocess
from collections.abc import Iterator

import pytest

from tests.servers.jupyterhub.localhub import INSTALL, LocalHub

# Short enough that a server left hanging by a fault test gives up soon; long enough for a loaded
# 2-core machine.
HTTP_TIMEOUT, START_TIMEOUT = 20, 30


@pytest.fixture(scope="session")
def jupyterhub() -> Iterator[LocalHub]:
    """A running LocalHub: `url`, `api_url`, `service_token`, `weak_token`, `user_password`,
    `log_path`, `state_dir`. A lone `pytest` installs the hub first (instant once done)."""
    installed = subprocess.run(["bash", str(INSTALL)], check=False, capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.fail(f"{INSTALL} failed:\n{installed.stderr[-3000:]}", pytrace=False)
    hub = LocalHub(http_timeout=HTTP_TIMEOUT, start_timeout=START_TIMEOUT).start()
    yield hub
    hub.stop()
