"""Errors of the JupyterHub client, each with a stable `code`. Messages carry the hub's own words and
never a token."""


class HubError(Exception):
    code = "hub.error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class HubUnavailable(HubError):
    """Connection refused, timed out, or 5xx/429 after the capped retries: an outage."""

    code = "hub.unavailable"


class HubForbidden(HubError):
    """403: the token lacks a scope or is invalid. Retrying cannot help."""

    code = "hub.forbidden"


class HubRequestError(HubError):
    """Another 4xx: the hub refused this request (unknown profile, bad name, ...)."""

    code = "hub.rejected"


class HubNotFound(HubRequestError):
    code = "hub.not_found"


class ServerNotRunning(HubError):
    """424 from the proxy: the single-user server is gone."""

    code = "hub.server_not_running"


class SpawnFailed(HubError):
    code = "hub.spawn_failed"


class SpawnTimeout(HubError):
    code = "hub.spawn_timeout"

    def __init__(self, seconds: float) -> None:
        self.seconds = int(seconds)
        super().__init__(f"the server was not ready within {self.seconds} seconds")


class KernelError(HubError):
    """The kernel could not be reached or stopped answering."""

    code = "hub.kernel"
