"""The suite's one real JupyterHub: started once per run, stopped at the end."""
import subprocess
from collections.abc import Iterator

import pytest

from tests.servers.jupyterhub.localhub import INSTALL, LocalHub
from tests.secret_watch import register_secrets
from tests.servers.oidc.idp import TestIdP

# Short enough that a server left hanging by a fault test gives up soon; long enough for a loaded
# 2-core machine.
HTTP_TIMEOUT, START_TIMEOUT = 20, 30


@pytest.fixture(scope="session")
def jupyterhub(hub_port_base: int, oidc_idp: TestIdP) -> Iterator[LocalHub]:
    """A running LocalHub: `url`, `public_url`, `api_url`, `service_token`, `weak_token`, `log_path`,
    `state_dir`. Its users log in through the suite's OpenID provider, like the portal's. A lone
    `pytest` installs the hub first (instant once done)."""
    installed = subprocess.run(["bash", str(INSTALL)], check=False, capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.fail(f"{INSTALL} failed:\n{installed.stderr[-3000:]}", pytrace=False)
    hub_client = oidc_idp.client("jupyterhub")
    hub = LocalHub(port_base=hub_port_base, http_timeout=HTTP_TIMEOUT, start_timeout=START_TIMEOUT,
                   oidc={"issuer": oidc_idp.issuer, "client_id": hub_client.client_id,
                         "client_secret": hub_client.client_secret}).start()
    register_secrets(hub.service_token, hub.weak_token, hub.no_create_token)
    yield hub
    hub.stop()
