"""Our JupyterHub client: the hub's REST API (`HubClient`), a user's single-user server through the
hub's proxy (`ServerClient`) and code execution on its kernels. Plain Python: no Django here."""
from facilities.hub.client import HubClient, HubInfo, MintedToken, ProgressEvent, ServerState
from facilities.hub.errors import (
    HubError,
    HubForbidden,
    HubNotFound,
    HubRequestError,
    HubUnavailable,
    KernelError,
    ServerNotRunning,
    SpawnFailed,
    SpawnTimeout,
)
from facilities.hub.kernel import CellResult
from facilities.hub.server import ServerClient, SessionInfo
from facilities.hub.transport import RetryPolicy, Timeouts

__all__ = [
    "CellResult", "HubClient", "HubError", "HubForbidden", "HubInfo", "HubNotFound", "HubRequestError",
    "HubUnavailable", "KernelError", "MintedToken", "ProgressEvent", "RetryPolicy", "ServerClient",
    "ServerNotRunning", "ServerState", "SessionInfo", "SpawnFailed", "SpawnTimeout", "Timeouts",
]
