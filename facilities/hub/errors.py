"""Errors of the JupyterHub client, each with a stable `code`. Messages carry the hub's own words and
never a token.

    HubError
    ├── HubUnavailable    outage: connection refused, timeout, 5xx or 429 after the capped retries
    ├── HubForbidden      403: a missing scope or an invalid token (never retried)
    ├── HubRequestError   another 4xx: the hub refused this request
    │   ├── HubNotFound   404
    │   └── ServerLimitReached   400: the user has as many named servers as the hub allows
    ├── ServerNotRunning  424: the single-user server is gone
    ├── SpawnFailed       the hub reported the spawn as failed
    ├── SpawnTimeout      the server was not ready by our deadline
    └── KernelError       the kernel websocket could not be used
"""


class HubError(Exception):
    code = "hub.error"

    def __init__(self, message: str, *, status: int | None = None, hub_message: str = "") -> None:
        self.status = status
        self.hub_message = hub_message or message
        super().__init__(message)


class HubUnavailable(HubError):
    code = "hub.unavailable"


class HubForbidden(HubError):
    code = "hub.forbidden"


class HubRequestError(HubError):
    code = "hub.rejected"


class HubNotFound(HubRequestError):
    code = "hub.not_found"


class ServerLimitReached(HubRequestError):
    code = "hub.server_limit"

    def __init__(self, message: str, *, limit: int, hub_message: str = "") -> None:
        self.limit = limit
        super().__init__(message, status=400, hub_message=hub_message)


class ServerNotRunning(HubError):
    code = "hub.server_not_running"


class SpawnFailed(HubError):
    code = "hub.spawn_failed"


class SpawnTimeout(HubError):
    code = "hub.spawn_timeout"

    def __init__(self, seconds: float) -> None:
        self.seconds = int(seconds)
        super().__init__(f"the server was not ready within {self.seconds} seconds")


class KernelError(HubError):
    code = "hub.kernel"
