"""Configuration of the local JupyterHub used by the tests and the demo. Everything comes from the
environment (set by localhub.py) so that parallel hubs never collide: loopback only, one port block."""
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spawner import OPTIONS_FORM, FastLocalSpawner, apply_user_options, options_from_form  # noqa: E402

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

state = Path(os.environ["ESAP_HUB_STATE_DIR"])
base = int(os.environ["ESAP_HUB_PORT_BASE"])
venv_bin = Path(os.environ["ESAP_HUB_VENV_BIN"])
portal_token = os.environ["ESAP_HUB_SERVICE_TOKEN"]
weak_token = os.environ["ESAP_HUB_WEAK_TOKEN"]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = base
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = base + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{base + 2}"
c.ConfigurableHTTPProxy.command = [os.environ["ESAP_HUB_PROXY_CMD"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get("ESAP_HUB_USER_PASSWORD", "esap-demo-password")
c.Authenticator.allow_all = True

c.JupyterHub.services = [
    {"name": "esap-portal", "api_token": portal_token},
    {"name": "esap-weak", "api_token": weak_token},
]
c.JupyterHub.load_roles = [
    {"name": "esap-portal", "services": ["esap-portal"],
     "scopes": ["admin:users", "admin:servers", "access:servers", "tokens", "read:hub"]},
    {"name": "esap-weak", "services": ["esap-weak"], "scopes": ["read:hub"]},
]

c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 0
c.JupyterHub.concurrent_spawn_limit = 50
c.JupyterHub.active_server_limit = 0
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": float(os.environ.get("ESAP_HUB_SLOW_SPAWN_TIMEOUT", "0"))}

c.JupyterHub.spawner_class = FastLocalSpawner
FastLocalSpawner.port_range = (base + 10, base + 100)
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
# port_retries=0: a server whose port was taken must fail loudly, not move to a port nobody polls.
c.Spawner.args = ["--KernelManager.transport=ipc", "--ServerApp.open_browser=False",
                  "--ServerApp.port_retries=0"] + (
    ["--allow-root"] if os.geteuid() == 0 else [])
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = int(os.environ.get("ESAP_HUB_START_TIMEOUT", "60"))
c.Spawner.http_timeout = int(os.environ.get("ESAP_HUB_HTTP_TIMEOUT", "30"))
c.Spawner.apply_user_options = apply_user_options
c.Spawner.options_form = OPTIONS_FORM
c.Spawner.options_from_form = options_from_form


def _runtime_dir(spawner) -> str:
    # Kernel IPC sockets live here; a Unix socket path must stay under 108 bytes.
    key = hashlib.sha1(f"{spawner.user.name}/{spawner.name}".encode()).hexdigest()[:10]
    return str(state / "rt" / key)


c.Spawner.environment = {"JUPYTER_RUNTIME_DIR": _runtime_dir, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
