"""How a call to a VO service failed: pyvo's and requests' exceptions sorted into "fix your query"
(VOQueryError) and "the service failed" (VOServiceError), and each failure said in plain words for the person
who searched. The calls themselves are vo.py's.
"""
import socket
from typing import Any

import requests
import urllib3

from staging.sources.base import StagingError
from staging.sources.vo_query import VOQueryError


class VOServiceError(Exception):
    """The service is down, too slow, or answered something that is not a valid VOTable. The message is the
    technical account; `why` says it in plain words for the person who searched (see failure_reason)."""

    def __init__(self, message: str, why: str = "failed") -> None:
        super().__init__(message)
        self.why = why


class URLRefused(Exception):
    """The URL policy refused a URL before it was requested: the first one or a redirect's target."""


class _translated:
    """pyvo's and requests' exceptions, sorted into "fix your query" and "the service failed"."""

    def __init__(self, url: str, session: requests.Session) -> None:
        self.url, self.session = url, session

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        from astropy.io.votable.exceptions import VOTableSpecError
        from pyvo.dal.exceptions import DALAccessError, DALFormatError, DALQueryError

        if error is None or isinstance(error, (VOQueryError, VOServiceError, StagingError, URLRefused)):
            return False
        # pyvo rewraps, or swallows (VOSI endpoints), what the session raised: a refusal is the true cause
        if refused := getattr(self.session, "refused", None):
            raise refused
        if isinstance(error, DALQueryError) and not isinstance(error, DALFormatError):
            raise VOQueryError(f"The service rejected the query: {error_reason(error)}") from error
        if _is_transport(error):
            cause = _underlying(error, self.session)
            raise VOServiceError(f"{self.url} could not be reached or failed: {_connection_reason(cause)}",
                                 why=failure_reason(cause)) from error
        if isinstance(error, (DALFormatError, VOTableSpecError, ValueError, KeyError, IndexError)):
            raise VOServiceError(f"{self.url} answered with a malformed VOTable: {error_reason(error)}",
                                 why=MALFORMED) from error
        if isinstance(error, DALAccessError):
            raise VOServiceError(f"{self.url} failed: {error_reason(error)}", why=failure_reason(error)) from error
        return False


def _underlying(error: BaseException, session: requests.Session) -> BaseException:
    """What the session raised when pyvo swallowed it (its VOSI endpoints raise a text without a cause)."""
    wraps = error.__cause__ or error.__context__ or getattr(error, "cause", None)
    return error if wraps else getattr(session, "failure", None) or error


def _connection_reason(error: BaseException) -> str:
    """urllib3's own account of a failed connection when there is one: requests' text repeats the request's
    whole URL (a long query) first, and error_reason would cut the cause off."""
    retries = next((cause for cause in _causes(error)
                    if isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason), None)
    if retries is None:
        return error_reason(error)
    return f"{type(retries.reason).__name__}: {error_reason(retries.reason)}"


UNREACHABLE = "could not be reached (no network, or the service is down)"
MALFORMED = "answered with something the portal cannot read (not a valid VOTable)"


def failure_reason(error: BaseException) -> str:
    """Why a call to a service failed, in plain words for the person who searched: a clause that follows the
    service's name ("The VO service 'X' could not be reached ..."). No exception names: those stay in the
    error's own text, the technical detail."""
    if isinstance(error, VOServiceError):
        return error.why
    causes = _causes(error)

    def found(*kinds: type[BaseException]) -> bool:
        return any(isinstance(cause, kinds) for cause in causes)

    if found(socket.gaierror):  # from the connection, or from the outbound policy resolving the name
        return "could not be reached: its host name could not be looked up (no network, or a wrong address)"
    if found(URLRefused):
        return ("may not be called from the portal: it, or an address it sent the portal to, is refused by "
                "the portal's outbound-address policy")
    if found(ConnectionRefusedError):
        return "could not be reached: nothing answers at its address (the service is down)"
    if found(requests.Timeout, TimeoutError) or any(
            isinstance(cause, urllib3.exceptions.TimeoutError)  # urllib3 files every failed connection here
            and not isinstance(cause, urllib3.exceptions.NewConnectionError) for cause in causes):
        return "did not answer in time (it is overloaded or down)"
    answered = sorted(causes, key=lambda cause: getattr(cause, "response", None) is None)  # requests' first
    if status := next(filter(None, map(_http_status, answered)), None):
        return f"answered with an error ({status})"
    if found(requests.ConnectionError, OSError):
        return UNREACHABLE
    return "failed"


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps: Python's chain, pyvo's `cause`, urllib3's `reason`."""
    seen: list[BaseException] = []
    pending: list[Any] = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(current is known for known in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__, getattr(current, "cause", None),
                    getattr(current, "reason", None)]
    return seen


def _http_status(error: BaseException) -> str:
    """'HTTP 503 Service Unavailable', with the service's own words when it answered plain text."""
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None) or getattr(error, "code", None)
    if not isinstance(code, int) or code < 400:
        return ""
    status = f"HTTP {code} {getattr(response, 'reason', '') or ''}".strip()
    if words := _plain_text(response):
        return f"{status}: {words}"
    return status


def _plain_text(response: requests.Response | None) -> str:
    """The first line of a plain-text answer (a service's own error message), printable and short."""
    if response is None or not response.headers.get("content-type", "").startswith("text/plain"):
        return ""
    try:
        lines = response.text.strip().splitlines()
    except (requests.RequestException, OSError, ValueError):
        return ""
    return "".join(c for c in lines[0] if c.isprintable())[:200].strip() if lines else ""


def is_outage(error: BaseException) -> bool:
    """No answer, or a server error; a 4xx (e.g. a product gone) is a fault of the data, not an outage."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code >= 500
    return isinstance(error, (requests.ConnectionError, requests.Timeout))


def _is_transport(error: BaseException) -> bool:
    """No usable answer at all; pyvo reports a refused connection as a DALFormatError caused by requests."""
    from pyvo.dal.exceptions import DALServiceError

    transport = (requests.RequestException, DALServiceError, OSError)
    return isinstance(error, transport) or isinstance(getattr(error, "cause", None), transport)


def error_reason(error: BaseException) -> str:
    text = str(getattr(error, "reason", "") or error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
