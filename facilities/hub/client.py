"""A typed client of the JupyterHub REST API (hub side): users, named servers, spawn progress, tokens.

The card's `jupyterhub-client` package (2016) predates named servers and scopes; this is our own, over
requests, with explicit timeouts and retries of transient errors only. No Django here.
"""
import itertools
import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from facilities.hub.errors import (
    HubNotFound,
    HubRequestError,
    HubUnavailable,
    ServerLimitReached,
    SpawnFailed,
    SpawnTimeout,
)
from facilities.hub.transport import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    TRANSIENT_STATUSES,
    RetryPolicy,
    Timeouts,
    Transport,
)

log = logging.getLogger(__name__)
PROGRESS_IDLE_SECONDS = 15.0  # the hub sends a keep-alive every 8 s; silence past this is a dead stream
# A 500 answering a start is the spawn's own failure (the server process died, say), not an outage:
# re-posting would only spawn again.
START_TRANSIENT = TRANSIENT_STATUSES - {500}
DISPLAY_NAME_LENGTH = 100  # the hub takes 255; its list of servers reads better with less


@dataclass(frozen=True)
class HubInfo:
    version: str

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isascii() and head.isdigit() else 0


@dataclass(frozen=True)
class ServerState:
    name: str
    ready: bool
    pending: str | None  # "spawn", "stop" or None
    url: str
    user_options: dict = field(default_factory=dict)
    display_name: str = ""


@dataclass(frozen=True)
class ProgressEvent:
    progress: int | None
    message: str
    ready: bool = False
    failed: bool = False
    url: str = ""


@dataclass(frozen=True)
class MintedToken:
    """Unpacks as `token_id, token = ...`; its repr never shows the token."""

    token_id: str
    token: str

    def __iter__(self) -> Iterator[str]:
        return iter((self.token_id, self.token))

    def __repr__(self) -> str:
        return f"MintedToken(token_id={self.token_id!r}, token=****)"


class HubClient:
    def __init__(self, base_url: str, token: str, *, timeouts: Timeouts = DEFAULT_TIMEOUTS,
                 retry: RetryPolicy = DEFAULT_RETRY, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = f"{self.base_url}/hub/api"
        self.http = Transport(token, timeouts=timeouts, retry=retry, session=session)
        self._info: HubInfo | None = None

    def __repr__(self) -> str:
        return f"HubClient({self.base_url!r})"

    def info(self) -> HubInfo:
        """The hub's version, asked once per client. From `/info`, which needs `read:hub`: `/` answers
        anyone, so a probe through it would call a hub "up" with a revoked or mistyped token."""
        if self._info is None:
            self._info = HubInfo(version=str(self.http.request("GET", f"{self.api}/info").json()["version"]))
        return self._info

    def user_exists(self, user: str) -> bool:
        try:
            self.http.request("GET", self._user(user))
        except HubNotFound:
            return False
        return True

    def ensure_user(self, user: str) -> None:
        self.http.request("POST", self._user(user), ok=(201, 409))

    def get_server(self, user: str, server: str) -> ServerState | None:
        """The named server if it is running or pending; None if it is not (HubNotFound: no such user)."""
        model = self.http.request("GET", self._user(user)).json()
        entry = (model.get("servers") or {}).get(server)
        if not entry:
            return None
        return ServerState(name=server, ready=bool(entry.get("ready")), pending=entry.get("pending"),
                           url=entry.get("url", ""), user_options=entry.get("user_options") or {},
                           display_name=entry.get("display_name") or "")

    def list_servers(self, user: str) -> list[str]:
        return sorted((self.http.request("GET", self._user(user)).json().get("servers") or {}).keys())

    def active_servers(self, page_size: int = 200) -> dict[str, set[str]]:
        """Every user with a running or starting server, with those servers' names, read page by page
        (`GET /users?state=active`; needs `list:users`). Offset pages can skip a user whose neighbour
        stopped meanwhile: treat an absence as a question to ask that user, not as an answer."""
        found: dict[str, set[str]] = {}
        offset: int | None = 0
        while offset is not None:
            reply = self.http.request(
                "GET", f"{self.api}/users?state=active&offset={offset}&limit={page_size}",
                headers={"Accept": "application/jupyterhub-pagination+json"}).json()
            for model in reply["items"]:
                found[model["name"]] = set((model.get("servers") or {}).keys())
            following = (reply.get("_pagination") or {}).get("next")
            offset = following["offset"] if following else None
        return found

    def start_server(self, user: str, server: str, user_options: dict[str, Any],
                     display_name: str | None = None) -> str:
        """"ready" (201, or already running) or "pending" (202: follow the progress).

        SpawnFailed when the hub answers the start with the spawn's failure (500). A server still
        stopping is waited for, as often as the retry policy allows."""
        body = self._start_body(server, user_options, display_name)
        for attempt in itertools.count():
            try:
                return self._post_start(user, server, body)
            except HubRequestError as error:
                if "is pending stop" not in error.hub_message or attempt + 1 >= self.http.retry.attempts:
                    raise
            time.sleep(self.http.retry.delay(attempt))
        raise AssertionError("unreachable")

    def _start_body(self, server: str, user_options: dict[str, Any],
                    display_name: str | None) -> dict[str, Any]:
        if self.info().major < 6:
            return dict(user_options)  # JupyterHub <= 5 takes the options as the whole body
        body: dict[str, Any] = {"user_options": dict(user_options)}
        if display_name:
            body["display_name"] = valid_display_name(display_name, fallback=server)
        return body

    def _post_start(self, user: str, server: str, body: dict[str, Any]) -> str:
        try:
            response = self.http.request("POST", self._server(user, server), json=body, ok=(201, 202),
                                         transient=START_TRANSIENT)
        except HubRequestError as error:
            if error.status == 400 and "is already running" in error.hub_message:
                return "ready"
            if error.status == 400 and (limit := re.search(r"already has the maximum of (\d+)", error.hub_message)):
                raise ServerLimitReached(str(error), limit=int(limit[1]), hub_message=error.hub_message) from error
            raise
        except HubUnavailable as error:
            if error.status == 500:
                raise SpawnFailed(error.hub_message, status=500) from error
            raise
        return "ready" if response.status_code == 201 else "pending"

    def follow_progress(self, user: str, server: str, deadline_seconds: float) -> Iterator[ProgressEvent]:
        """Events until the server is ready; SpawnFailed on failure (or if it is not starting at all),
        SpawnTimeout past the deadline. A broken stream is reopened while time remains."""
        deadline = time.monotonic() + deadline_seconds
        url = f"{self._server(user, server)}/progress"
        while time.monotonic() < deadline:
            try:
                for event in self._progress_events(url, deadline):
                    yield event
                    if event.ready:
                        return
            except HubUnavailable as error:
                log.info("hub: progress stream of %s/%s broke (%s), reopening", user, server, error)
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            except HubRequestError as error:  # 404 (gone) or 400 ("is not starting...")
                raise SpawnFailed(f"the server stopped or never started ({error.hub_message})",
                                  status=error.status) from error
        raise SpawnTimeout(deadline_seconds)

    def _progress_events(self, url: str, deadline: float) -> Iterator[ProgressEvent]:
        # The read timeout bounds every wait for the next line, so a silent stream cannot outlive us.
        read_timeout = max(0.1, min(PROGRESS_IDLE_SECONDS, deadline - time.monotonic()))
        with self.http.request("GET", url, stream=True, read_timeout=read_timeout) as response:
            try:
                for line in response.iter_lines(decode_unicode=True):
                    if time.monotonic() > deadline:
                        return
                    event = _parse_event_line(line)
                    if event and event.failed:
                        raise SpawnFailed(event.message or "the hub reported a failed spawn")
                    if event:
                        yield event
            except (requests.ConnectionError, requests.Timeout) as error:
                if time.monotonic() < deadline:
                    raise HubUnavailable(f"progress stream: {type(error).__name__}") from error

    def stop_server(self, user: str, server: str, remove: bool = True, *, wait_seconds: float = 30.0) -> bool:
        """Stops (and by default forgets) the server; an absent server counts as stopped. A slow stop
        (202) is waited for up to `wait_seconds`. Whether the hub knew the server."""
        response = self.http.request("DELETE", self._server(user, server), json={"remove": remove},
                                     ok=(202, 204, 404))
        if response.status_code == 202:
            self._wait_stopped(user, server, wait_seconds, forgotten=remove)
        return response.status_code != 404

    def _wait_stopped(self, user: str, server: str, wait_seconds: float, *, forgotten: bool) -> None:
        # A removed server still counts against the hub's limit of named servers until it is forgotten,
        # which the hub does only after the stop: wait for that too.
        done = (lambda: not self.server_known(user, server)) if forgotten else (
            lambda: not ((state := self.get_server(user, server)) and (state.ready or state.pending)))
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.25)
        raise HubUnavailable(f"{user}/{server} did not stop within {int(wait_seconds)} seconds")

    def server_known(self, user: str, server: str) -> bool:
        """Whether the hub knows the named server at all, running or stopped."""
        return server in self._all_servers(user)

    def stopped_servers(self, user: str) -> set[str]:
        """The user's named servers that the hub knows but that neither run nor start (they still count
        against its limit of named servers per user until removed)."""
        return {name for name, entry in self._all_servers(user).items()
                if name and not (entry.get("ready") or entry.get("pending"))}

    def _all_servers(self, user: str) -> dict[str, dict]:
        model = self.http.request("GET", f"{self._user(user)}?include_stopped_servers=1").json()
        return model.get("servers") or {}

    def mint_server_token(self, user: str, server: str, expires_in: int = 900, *,
                          note: str = "esap") -> MintedToken:
        """A token of `user` that reaches this one server and nothing else."""
        body = {"scopes": [f"access:servers!server={user}/{server}"], "expires_in": int(expires_in),
                "note": note}
        reply = self.http.request("POST", f"{self._user(user)}/tokens", json=body, ok=(200, 201)).json()
        return MintedToken(token_id=str(reply["id"]), token=reply["token"])

    def revoke_token(self, user: str, token_id: str) -> None:
        """Revokes at the hub; a server may still honour its cached copy for a few minutes."""
        self.http.request("DELETE", f"{self._user(user)}/tokens/{quote(token_id, safe='')}", ok=(204, 404))

    def _user(self, user: str) -> str:
        return f"{self.api}/users/{quote(user, safe='')}"

    def _server(self, user: str, server: str) -> str:
        return f"{self._user(user)}/servers/{quote(server, safe='')}"


def valid_display_name(title: str, *, fallback: str) -> str:
    """`title` as a display name JupyterHub 6 accepts (it refuses the whole start otherwise): printable
    characters only (no controls, no format characters such as a soft hyphen or a zero-width joiner),
    single spaces between words, none at either end, at most DISPLAY_NAME_LENGTH characters; `fallback`
    (the server's name) if nothing is left."""
    kept = "".join(c for c in unicodedata.normalize("NFC", title)
                   if c.isspace() or unicodedata.category(c)[0] in "LMNPS")
    return " ".join(kept.split())[:DISPLAY_NAME_LENGTH].rstrip() or fallback


def _parse_event_line(line: str) -> ProgressEvent | None:
    """A `data: {json}` line of the event stream as an event; keep-alives and comments are None."""
    if not line or not line.startswith("data:"):
        return None
    try:
        data = json.loads(line[5:])
    except ValueError:
        log.warning("hub: ignoring a progress line that is not JSON")
        return None
    if not isinstance(data, dict):
        return None
    return ProgressEvent(progress=data.get("progress"), message=str(data.get("message") or ""),
                         ready=bool(data.get("ready")), failed=bool(data.get("failed")),
                         url=str(data.get("url") or ""))
