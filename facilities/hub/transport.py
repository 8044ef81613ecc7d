"""HTTP to a hub and its servers: explicit timeouts, retries for named transient errors only (connection
errors, timeouts, 5xx, 429 with Retry-After), with exponential backoff and a cap."""
import logging
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from facilities.hub.errors import (
    HubError,
    HubForbidden,
    HubNotFound,
    HubRequestError,
    HubUnavailable,
    ServerNotRunning,
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
    """`attempts` requests in all; the n-th wait is `backoff * 2**n`, and never more than `cap`, even
    when the server's Retry-After asks for longer."""

    attempts: int = 4
    backoff: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        asked = _retry_after_seconds(retry_after)
        wanted = asked if asked is not None else self.backoff * 2 ** attempt
        return max(0.0, min(wanted, self.cap))


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


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
                stream: bool = False, read_timeout: float | None = None,
                transient: frozenset[int] = TRANSIENT_STATUSES,
                headers: dict[str, str] | None = None) -> requests.Response:
        """The response if its status is in `ok`; otherwise the matching HubError, after retrying
        connection errors, timeouts and `transient` statuses as the retry policy allows. Anything else the
        session raises goes up at once, unretried: a connection refused by the session's own policy (the
        peer check of esap.http.peer_checked_session) would be refused again."""
        timeout = (self.timeouts.connect, read_timeout or self.timeouts.read)
        for attempt in range(self.retry.attempts):
            try:
                response = self.session.request(method, url, json=json,
                                                headers={**(headers or {}), **self.auth_header},
                                                timeout=timeout, stream=stream)
            except (requests.ConnectionError, requests.Timeout) as error:
                failure: HubError = HubUnavailable(f"{method} {_path(url)}: {type(error).__name__}")
                retry_after = None
            else:
                if response.status_code in ok:
                    return response
                failure = error_for(response, method, url)
                retry_after = response.headers.get("Retry-After")
                response.close()
                if response.status_code not in transient:
                    raise failure
            if attempt + 1 < self.retry.attempts:
                log.info("hub: %s, retrying", failure)
                time.sleep(self.retry.delay(attempt, retry_after))
        raise failure


def error_for(response: requests.Response, method: str, url: str) -> HubError:
    status = response.status_code
    said = hub_message(response)
    message = f"{method} {_path(url)}: {status} {said}"
    if status in TRANSIENT_STATUSES:
        kind: type[HubError] = HubUnavailable
    elif status == 403:
        kind = HubForbidden
    elif status == 404:
        kind = HubNotFound
    elif status == 424:
        kind = ServerNotRunning
    else:
        kind = HubRequestError
    return kind(message, status=status, hub_message=said)


def hub_message(response: requests.Response) -> str:
    """The hub's own words: the `message` of its JSON error body, else the HTTP reason."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or response.reason or "")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return seconds if math.isfinite(seconds) else None


def _path(url: str) -> str:
    """The URL's path for messages: no scheme, host or query string (a query could carry a secret)."""
    return urlsplit(url).path or "/"
