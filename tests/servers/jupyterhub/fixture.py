"""The suite's one real JupyterHub: started once per run, stopped at the end."""
import subprocess

import pytest

from tests.servers.jupyterhub.localhub import HERE, LocalHub


@pytest.fixture(scope="session")
def jupyterhub():
    # A lone `pytest` run installs the hub itself; `bin/dev test` has done it already (then instant).
    subprocess.run(["bash", str(HERE / "install.sh")], check=True)
    hub = LocalHub(http_timeout=20, start_timeout=30).start()
    yield hub
    hub.stop()
