"""A user's single-user server, reached through the hub's proxy with a server-scoped token: notebook
contents, kernel sessions, and cell execution over the kernel websocket."""
import logging
import posixpath
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import requests

from facilities.hub.errors import HubError, HubNotFound, HubRequestError, HubUnavailable, ServerNotRunning
from facilities.hub.kernel import CellResult, KernelConnection, PeerPolicy
from facilities.hub.transport import DEFAULT_RETRY, DEFAULT_TIMEOUTS, RetryPolicy, Timeouts, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionInfo:
    """Unpacks as `session_id, kernel_id = ...`."""

    session_id: str
    kernel_id: str
    path: str = ""
    kernel_name: str = ""

    def __iter__(self) -> Iterator[str]:
        return iter((self.session_id, self.kernel_id))


class ServerClient:
    """`session` makes the REST calls; the kernel websocket is no requests connection, so the check a
    session may put on the address each connection reached is given apart, as `peer_policy`."""

    def __init__(self, hub_url: str, user: str, server: str, token: str, *, timeouts: Timeouts = DEFAULT_TIMEOUTS,
                 retry: RetryPolicy = DEFAULT_RETRY, session: requests.Session | None = None,
                 peer_policy: PeerPolicy | None = None) -> None:
        self.prefix = f"/user/{quote(user, safe='')}/{quote(server, safe='')}"
        self.base = f"{hub_url.rstrip('/')}{self.prefix}"
        self.http = Transport(token, timeouts=timeouts, retry=retry, session=session)
        self.peer_policy = peer_policy
        self._token = token

    def __repr__(self) -> str:
        return f"ServerClient({self.base!r})"

    def wait_until_reachable(self, timeout: float = 30.0) -> None:
        """Right after a spawn reports ready, a saturated proxy may not route to the server yet (404/424/503)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.http.request("GET", f"{self.base}/api/status")
                return
            except (HubNotFound, ServerNotRunning, HubUnavailable):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def ensure_directory(self, path: str) -> None:
        current = ""
        for part in [p for p in path.split("/") if p]:
            current = posixpath.join(current, part)
            try:
                self.http.request("GET", self._contents(current) + "?content=0")
            except HubRequestError as error:
                if error.status != 404:
                    raise
                self.http.request("PUT", self._contents(current), json={"type": "directory"})

    def put_notebook(self, path: str, notebook: dict) -> None:
        self.http.request("PUT", self._contents(path),
                          json={"type": "notebook", "format": "json", "content": notebook})

    def get_notebook(self, path: str) -> dict:
        return self.http.request("GET", self._contents(path) + "?type=notebook&content=1").json()["content"]

    def create_session(self, path: str, kernel_name: str) -> SessionInfo:
        """A kernel bound to the notebook's path; JupyterLab opening the notebook joins the same one."""
        body = {"path": path, "name": posixpath.basename(path), "type": "notebook",
                "kernel": {"name": kernel_name}}
        return _session(self.http.request("POST", f"{self.base}/api/sessions", json=body).json())

    def list_sessions(self) -> list[SessionInfo]:
        return [_session(item) for item in self.http.request("GET", f"{self.base}/api/sessions").json()]

    def delete_session(self, session_id: str) -> None:
        """Ends the session and shuts its kernel down, so the path's next session starts a fresh one; a
        session already gone is fine."""
        self.http.request("DELETE", f"{self.base}/api/sessions/{quote(session_id, safe='')}", ok=(204, 404))

    def interrupt_kernel(self, kernel_id: str) -> None:
        self.http.request("POST", f"{self.base}/api/kernels/{quote(kernel_id, safe='')}/interrupt", ok=(204,))

    def execute(self, kernel_id: str, session_id: str, sources: list[str],
                timeout_per_cell: float = 120.0) -> list[CellResult]:
        """Run the cells in order on the kernel, stopping after the first that fails. A cell that runs
        past its timeout is interrupted: left running, it would keep the kernel busy, unable to take
        other code, and the server from ever looking idle to the hub's culler."""
        url = self.base.replace("http", "ws", 1) + f"/api/kernels/{quote(kernel_id, safe='')}/channels"
        # The handshake is an HTTP exchange through the proxy: under load it needs a read-sized timeout.
        with KernelConnection(url, token=self._token, session_id=session_id, peer_policy=self.peer_policy,
                              connect_timeout=self.http.timeouts.read) as kernel:
            kernel.wait_until_ready(timeout=max(30.0, timeout_per_cell))
            results = []
            for source in sources:
                result = kernel.execute(source, timeout=timeout_per_cell)
                results.append(result)
                if result.status != "ok":
                    break
        if results and results[-1].status == "timeout":
            self._interrupt_quietly(kernel_id)
        return results

    def _interrupt_quietly(self, kernel_id: str) -> None:
        try:
            self.interrupt_kernel(kernel_id)
        except HubError as error:  # the timeout is the outcome to report, not this
            log.warning("hub: could not interrupt kernel %s: %s", kernel_id, error)

    def _contents(self, path: str) -> str:
        return f"{self.base}/api/contents/{quote(path.strip('/'))}"


def _session(item: dict) -> SessionInfo:
    return SessionInfo(session_id=item["id"], kernel_id=item["kernel"]["id"], path=item.get("path", ""),
                       kernel_name=item["kernel"].get("name", ""))
