"""HTTP to a hub and its servers: explicit timeouts, retries for named transient errors only (connection
errors, timeouts, 5xx, 429 with Retry-After), with exponential backoff and a cap."""
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from facilities.hub.errors import (
    HubError, HubForbidden, HubNotFound, HubRequestError, HubUnavailable, ServerNotRunning,
)

log = logging.getLogger(__name__)
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.cap)
        return min(self.backoff * 2 ** attempt, self.cap)


class Transport:
    def __init__(self, token: str, *, timeouts: Timeouts, retry: RetryPolicy,
                 session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()
        self._token = token
        self.timeouts, self.retry = timeouts, retry

    def __repr__(self) -> str:
        return f"Transport(token=****, timeouts={self.timeouts}, retry={self.retry})"

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"token {self._token}"}

    def request(self, method: str, url: str, *, json: Any = None, ok: tuple[int, ...] = (200, 201, 204),
                stream: bool = False, read_timeout: float | None = None) -> requests.Response:
        timeout = (self.timeouts.connect, read_timeout or self.timeouts.read)
        for attempt in range(self.retry.attempts):
            try:
                response = self.session.request(method, url, json=json, headers=self.auth_header,
                                                timeout=timeout, stream=stream)
            except (requests.ConnectionError, requests.Timeout) as error:
                failure: HubError = HubUnavailable(f"{method} {_path(url)}: {type(error).__name__}")
                retry_after = None
            else:
                if response.status_code in ok:
                    return response
                failure = error_for(response, method, url)
                retry_after = response.headers.get("Retry-After")
                if response.status_code not in TRANSIENT_STATUSES:
                    raise failure
            if attempt + 1 < self.retry.attempts:
                log.info("hub: %s, retrying", failure)
                time.sleep(self.retry.delay(attempt, retry_after))
        raise failure


def error_for(response: requests.Response, method: str, url: str) -> HubError:
    status = response.status_code
    message = f"{method} {_path(url)}: {status} {hub_message(response)}"
    if status in TRANSIENT_STATUSES:
        return HubUnavailable(message, status=status)
    if status == 403:
        return HubForbidden(message, status=status)
    if status == 404:
        return HubNotFound(message, status=status)
    if status == 424:
        return ServerNotRunning(message, status=status)
    return HubRequestError(message, status=status)


def hub_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    return str(body.get("message") or response.reason or "") if isinstance(body, dict) else response.reason


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
