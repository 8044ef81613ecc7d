"""A typed client of the JupyterHub REST API (hub side): users, named servers, spawn progress, tokens.

The card's `jupyterhub-client` package (2016) predates named servers and scopes; this is our own, over
requests, with explicit timeouts and retries of transient errors only. No Django here.
"""
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from facilities.hub.errors import HubNotFound, HubRequestError, HubUnavailable, SpawnFailed, SpawnTimeout
from facilities.hub.transport import RetryPolicy, Timeouts, Transport

PROGRESS_IDLE_SECONDS = 15.0  # the hub sends a keep-alive every 8 s; silence past this is a dead stream


@dataclass(frozen=True)
class HubInfo:
    version: str

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0


@dataclass(frozen=True)
class ServerState:
    name: str
    ready: bool
    pending: str | None
    url: str
    user_options: dict


@dataclass(frozen=True)
class ProgressEvent:
    progress: int | None
    message: str
    ready: bool = False
    failed: bool = False
    url: str = ""


@dataclass(frozen=True)
class MintedToken:
    token_id: str
    token: str

    def __repr__(self) -> str:
        return f"MintedToken(token_id={self.token_id!r}, token=****)"


class HubClient:
    def __init__(self, base_url: str, token: str, *, timeouts: Timeouts = Timeouts(),
                 retry: RetryPolicy = RetryPolicy(), session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = f"{self.base_url}/hub/api"
        self.http = Transport(token, timeouts=timeouts, retry=retry, session=session)
        self._info: HubInfo | None = None

    def __repr__(self) -> str:
        return f"HubClient({self.base_url!r})"

    def info(self) -> HubInfo:
        if self._info is None:
            self._info = HubInfo(version=str(self.http.request("GET", f"{self.api}/").json()["version"]))
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
        model = self.http.request("GET", self._user(user)).json()
        entry = (model.get("servers") or {}).get(server)
        if not entry:
            return None
        return ServerState(name=server, ready=bool(entry.get("ready")), pending=entry.get("pending"),
                           url=entry.get("url", ""), user_options=entry.get("user_options") or {})

    def list_servers(self, user: str) -> list[str]:
        return sorted((self.http.request("GET", self._user(user)).json().get("servers") or {}).keys())

    def start_server(self, user: str, server: str, user_options: dict[str, Any],
                     display_name: str | None = None) -> str:
        """"ready" or "pending". A server of ours that is already running counts as started."""
        body: dict[str, Any] = user_options
        if self.info().major >= 6:
            body = {"user_options": user_options}
            if display_name:
                body["display_name"] = display_name
        try:
            response = self.http.request("POST", self._server(user, server), json=body, ok=(201, 202))
        except HubRequestError as error:
            if error.status == 400 and "is already running" in str(error):
                return "ready"
            raise
        return "ready" if response.status_code == 201 else "pending"

    def follow_progress(self, user: str, server: str, *, deadline_seconds: float) -> Iterator[ProgressEvent]:
        """Events until the server is ready; SpawnFailed on failure, SpawnTimeout past the deadline."""
        deadline = time.monotonic() + deadline_seconds
        url = f"{self._server(user, server)}/progress"
        while time.monotonic() < deadline:
            try:
                for event in self._progress_events(url, deadline):
                    yield event
                    if event.ready:
                        return
            except HubUnavailable:
                time.sleep(0.5)  # the stream broke (hub restart?): reconnect while time remains
                continue
            except HubNotFound as error:
                raise SpawnFailed(f"the server is not running: it stopped or failed to start ({error})")
        raise SpawnTimeout(deadline_seconds)

    def _progress_events(self, url: str, deadline: float) -> Iterator[ProgressEvent]:
        read_timeout = max(0.1, min(PROGRESS_IDLE_SECONDS, deadline - time.monotonic()))
        with self.http.request("GET", url, stream=True, read_timeout=read_timeout) as response:
            try:
                for line in response.iter_lines(decode_unicode=True):
                    if time.monotonic() > deadline:
                        return
                    if line and line.startswith("data:"):
                        event = _progress_event(json.loads(line[5:]))
                        if event.failed:
                            raise SpawnFailed(event.message or "the hub reported a failed spawn")
                        yield event
            except (requests.ConnectionError, requests.Timeout) as error:
                if time.monotonic() < deadline:
                    raise HubUnavailable(f"progress stream: {type(error).__name__}") from error

    def stop_server(self, user: str, server: str, *, remove: bool = True) -> None:
        self.http.request("DELETE", self._server(user, server), json={"remove": remove}, ok=(202, 204, 404))

    def mint_server_token(self, user: str, server: str, *, expires_in: int = 900) -> MintedToken:
        """A token that reaches this one server of this user and nothing else."""
        body = {"scopes": [f"access:servers!server={user}/{server}"], "expires_in": int(expires_in),
                "note": "esap checkout step"}
        reply = self.http.request("POST", f"{self._user(user)}/tokens", json=body, ok=(200, 201)).json()
        return MintedToken(token_id=str(reply["id"]), token=reply["token"])

    def revoke_token(self, user: str, token_id: str) -> None:
        self.http.request("DELETE", f"{self._user(user)}/tokens/{quote(token_id, safe='')}", ok=(204, 404))

    def _user(self, user: str) -> str:
        return f"{self.api}/users/{quote(user, safe='')}"

    def _server(self, user: str, server: str) -> str:
        return f"{self._user(user)}/servers/{quote(server, safe='')}"


def _progress_event(data: dict) -> ProgressEvent:
    return ProgressEvent(progress=data.get("progress"), message=str(data.get("message") or ""),
                         ready=bool(data.get("ready")), failed=bool(data.get("failed")),
                         url=str(data.get("url") or ""))
