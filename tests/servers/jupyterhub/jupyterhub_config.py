"""Configuration of the local JupyterHub used by the tests and the demo. Everything comes from the
environment (localhub.py sets it) so that parallel hubs never collide: loopback only (unless ESAP_HUB_IP
says otherwise), one port block.

  ESAP_HUB_STATE_DIR            database, cookie secret, pid files, users' homes        (required)
  ESAP_HUB_PORT_BASE            base: proxy; +1 hub API; +2 proxy API; +10..+99 servers (required)
  ESAP_HUB_SERVICE_TOKEN        token of the portal's service                            (required)
  ESAP_HUB_PROXY_CMD            absolute path of configurable-http-proxy                 (required)
  ESAP_HUB_PORTAL_SCOPES        the portal service's scopes, space-separated             (required)
  ESAP_HUB_NO_CREATE_TOKEN / _SCOPES   a service that may not create users               (optional)
  ESAP_HUB_WEAK_TOKEN           token of a service holding only read:hub (fault tests)   (optional)
  ESAP_HUB_VENV_BIN             bin/ of the hub's venv             (default: this Python's bin/)
  ESAP_HUB_RUNTIME_DIR          short dir for kernel sockets       (default: <state>/rt)
  ESAP_HUB_IP                   address the proxy's public port binds (default: 127.0.0.1; the compose
                                demo hub: 0.0.0.0, so other containers and the published port reach it)
  ESAP_HUB_USER_PASSWORD        shared login password of every hub user (default: esap-demo-password)
  ESAP_HUB_SLOW_SPAWN_TIMEOUT   seconds a start POST waits before answering 202 (default: 0)
  ESAP_HUB_START_TIMEOUT / ESAP_HUB_HTTP_TIMEOUT   Spawner timeouts in seconds (default: 60 / 60)
  ESAP_HUB_CONCURRENT_SPAWN_LIMIT   pending spawns before the hub answers 429 (default: 50)
  ESAP_HUB_OIDC_ISSUER          log users in through this OpenID provider (GenericOAuthenticator)
                                instead of the shared password; with ESAP_HUB_OIDC_CLIENT_ID,
                                ESAP_HUB_OIDC_CLIENT_SECRET and ESAP_HUB_PUBLIC_URL (the host name the
                                browser uses: the IdP redirects back to it exactly)
"""
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # JupyterHub loads this file, not a package
from spawner import OPTIONS_FORM, FastLocalSpawner, apply_user_options, options_from_form

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)
env = os.environ

state = Path(env["ESAP_HUB_STATE_DIR"])
base = int(env["ESAP_HUB_PORT_BASE"])
venv_bin = Path(env.get("ESAP_HUB_VENV_BIN") or Path(sys.executable).parent)
runtime_root = Path(env.get("ESAP_HUB_RUNTIME_DIR") or state / "rt")

c.JupyterHub.ip = env.get("ESAP_HUB_IP") or "127.0.0.1"
c.JupyterHub.port = base
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = base + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{base + 2}"
c.ConfigurableHTTPProxy.command = [env["ESAP_HUB_PROXY_CMD"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

if env.get("ESAP_HUB_OIDC_ISSUER"):
    # The same IdP as the portal, and the same claim for the username: one person, one name.
    issuer = env["ESAP_HUB_OIDC_ISSUER"].rstrip("/")
    c.JupyterHub.authenticator_class = "generic-oauth"
    c.GenericOAuthenticator.client_id = env["ESAP_HUB_OIDC_CLIENT_ID"]
    c.GenericOAuthenticator.client_secret = env["ESAP_HUB_OIDC_CLIENT_SECRET"]
    c.GenericOAuthenticator.oauth_callback_url = f"{env['ESAP_HUB_PUBLIC_URL']}/hub/oauth_callback"
    c.GenericOAuthenticator.authorize_url = f"{issuer}/auth"
    c.GenericOAuthenticator.token_url = f"{issuer}/token"
    c.GenericOAuthenticator.userdata_url = f"{issuer}/me"
    c.GenericOAuthenticator.scope = ["openid", "profile", "email", "groups"]
    c.GenericOAuthenticator.username_claim = "preferred_username"
    c.GenericOAuthenticator.basic_auth = True
    c.GenericOAuthenticator.enable_pkce = True
    c.GenericOAuthenticator.login_service = "the test IdP"
    c.Authenticator.auto_login = True  # straight to the IdP: no "Sign in with ..." button to press
else:
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = env.get("ESAP_HUB_USER_PASSWORD") or "esap-demo-password"
c.Authenticator.allow_all = True

# The portal's roles as facilities/hub/roles.py documents them (localhub.py passes them in), so every
# test proves they suffice.
services = [("esap-portal", env["ESAP_HUB_SERVICE_TOKEN"], env["ESAP_HUB_PORTAL_SCOPES"].split())]
if env.get("ESAP_HUB_NO_CREATE_TOKEN"):
    services.append(("esap-no-create", env["ESAP_HUB_NO_CREATE_TOKEN"], env["ESAP_HUB_NO_CREATE_SCOPES"].split()))
if env.get("ESAP_HUB_WEAK_TOKEN"):
    services.append(("esap-weak", env["ESAP_HUB_WEAK_TOKEN"], ["read:hub"]))
c.JupyterHub.services = [{"name": name, "api_token": token} for name, token, _ in services]
c.JupyterHub.load_roles = [{"name": name, "services": [name], "scopes": scopes} for name, _, scopes in services]



def _named_server_limit(handler) -> int:
    # Users named limited-* may run one named server, so tests meet the hub's own limit; others none.
    return 1 if "/users/limited-" in handler.request.path else 0


c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = _named_server_limit
c.JupyterHub.concurrent_spawn_limit = int(env.get("ESAP_HUB_CONCURRENT_SPAWN_LIMIT") or 50)
c.JupyterHub.active_server_limit = 0
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": float(env.get("ESAP_HUB_SLOW_SPAWN_TIMEOUT") or 0)}

c.JupyterHub.spawner_class = FastLocalSpawner
c.FastLocalSpawner.port_range = (base + 10, base + 100)
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
# port_retries=0: a server whose port was taken must fail loudly, not move to a port nobody polls.
c.Spawner.args = ["--KernelManager.transport=ipc", "--ServerApp.open_browser=False",
                  "--ServerApp.port_retries=0"] + (["--allow-root"] if os.geteuid() == 0 else [])
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = int(env.get("ESAP_HUB_START_TIMEOUT") or 60)
c.Spawner.http_timeout = int(env.get("ESAP_HUB_HTTP_TIMEOUT") or 60)
c.Spawner.apply_user_options = apply_user_options
c.Spawner.options_form = OPTIONS_FORM
c.Spawner.options_from_form = options_from_form


def _runtime_dir(spawner) -> str:
    # Kernel IPC sockets live here; a Unix socket path must stay under 108 bytes.
    key = hashlib.sha1(f"{spawner.user.name}/{spawner.name}".encode()).hexdigest()[:10]
    return str(runtime_root / key)


c.Spawner.environment = {"JUPYTER_RUNTIME_DIR": _runtime_dir, "PATH": f"{venv_bin}:{env.get('PATH', '')}"}
