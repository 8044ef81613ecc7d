"""Clients of the suite's real hub (the session-scoped `jupyterhub` fixture of tests/servers/)."""
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from facilities.hub import HubClient, ServerClient
from tests.servers.jupyterhub.localhub import LocalHub

SHARED_USER, SHARED_SERVER = "hubclient-shared", "nb"
_names = itertools.count(1)


@dataclass
class Sent:
    method: str
    path: str
    body: object
    status: int


class RecordingSession(requests.Session):
    """A real session that also counts its attempts and notes every answer it got."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.sent: list[Sent] = []
        self.hooks["response"].append(self._note)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.attempts += 1
        return super().request(*args, **kwargs)

    def _note(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        body = response.request.body
        self.sent.append(Sent(response.request.method, response.request.path_url,
                              json.loads(body) if body else None, response.status_code))


@pytest.fixture
def hub(jupyterhub: LocalHub) -> HubClient:
    return HubClient(jupyterhub.url, jupyterhub.service_token)


@pytest.fixture
def user(hub: HubClient) -> str:
    """A hub user of this test alone."""
    name = f"hubclient-{next(_names)}"
    hub.ensure_user(name)
    return name


@pytest.fixture(scope="package")
def running(jupyterhub: LocalHub) -> Iterator[ServerClient]:
    """One running server shared by the tests that only add files and kernels to it, reached with a
    token scoped to it."""
    hub = HubClient(jupyterhub.url, jupyterhub.service_token)
    hub.ensure_user(SHARED_USER)
    hub.start_server(SHARED_USER, SHARED_SERVER, {"profile": "small"})
    list(hub.follow_progress(SHARED_USER, SHARED_SERVER, deadline_seconds=60))
    token_id, token = hub.mint_server_token(SHARED_USER, SHARED_SERVER, expires_in=3600)
    server = ServerClient(jupyterhub.url, SHARED_USER, SHARED_SERVER, token)
    server.wait_until_reachable()
    yield server
    hub.revoke_token(SHARED_USER, token_id)
    hub.stop_server(SHARED_USER, SHARED_SERVER)
