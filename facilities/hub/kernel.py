"""Executing code on a Jupyter kernel over its websocket, with the Jupyter messaging protocol (v5)."""
import json
import os
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

import websocket
from websocket._url import get_proxy_info  # websocket-client's own reading of the proxy settings

from facilities.hub.errors import KernelError, ServerNotRunning

OUTPUT_TYPES = {"stream", "execute_result", "display_data", "error"}
PeerPolicy = Callable[[str], object]  # raises if a connection may not go on to the address it reached


@dataclass
class CellResult:
    status: str  # "ok", "error" or "timeout"
    execution_count: int | None = None
    outputs: list[dict] = field(default_factory=list)
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)


class KernelConnection:
    """With a `peer_policy`, the connection is opened here and the address it reached is put to the policy
    before anything is sent on it; without, websocket-client opens it as it likes."""

    def __init__(self, url: str, *, token: str, session_id: str, connect_timeout: float = 10.0,
                 peer_policy: PeerPolicy | None = None) -> None:
        self.url = f"{url}?session_id={session_id}"
        self.session_id = session_id
        self._token = token
        self.connect_timeout = connect_timeout
        self.peer_policy = peer_policy
        self.socket: websocket.WebSocket | None = None

    def __enter__(self) -> Self:
        try:
            self.socket = websocket.create_connection(
                self.url, timeout=self.connect_timeout,
                header=[f"Authorization: token {self._token}", "Sec-Fetch-Mode: websocket"],
                **self._checked_transport(),
            )
        except websocket.WebSocketBadStatusException as error:
            if error.status_code == 424:
                raise ServerNotRunning("the single-user server is not running", status=424) from error
            raise KernelError(f"kernel websocket refused: HTTP {error.status_code}",
                              status=error.status_code) from error
        except (OSError, websocket.WebSocketException) as error:
            raise KernelError(f"kernel websocket: {type(error).__name__}: {error}") from error
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.socket:
            self.socket.close()

    def _checked_transport(self) -> dict[str, Any]:
        """websocket-client's options for a socket opened and vetted here. It would follow a redirect on a
        connection of its own, unvetted and carrying the token: none is followed. Behind an outbound proxy
        websocket-client tunnels through it, as requests does for the hub's REST calls: the connection then
        reaches the proxy, whose business the final address is (a direct one might not get out at all)."""
        if self.peer_policy is None or _through_proxy(self.url):
            return {}
        sock = open_checked_socket(self.url, self.peer_policy, timeout=self.connect_timeout)
        return {"socket": sock, "redirect_limit": 0}

    def wait_until_ready(self, timeout: float) -> None:
        """A fresh kernel answers kernel_info once it can take code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self._send("kernel_info_request", {})
            try:
                self._receive_until(_reply_to(msg_id, "kernel_info_reply"),
                                    deadline=min(deadline, time.monotonic() + 2.0))
                return
            except TimeoutError:
                continue
        raise KernelError(f"the kernel did not answer within {int(timeout)} seconds")

    def execute(self, source: str, *, timeout: float) -> CellResult:
        msg_id = self._send("execute_request", {
            "code": source, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        result = CellResult(status="ok")
        state = {"idle": False, "reply": False}
        deadline = time.monotonic() + timeout
        try:
            while not (state["idle"] and state["reply"]):
                message = self._receive_until(lambda m: _parent(m) == msg_id, deadline=deadline)
                _collect(message, result, state)
        except TimeoutError:
            result.status = "timeout"
        return result

    def _send(self, msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": "esap", "session": self.session_id,
                  "date": datetime.now(UTC).isoformat(), "version": "5.3"}
        self.socket.send(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                     "content": content, "channel": "shell", "buffers": []}))
        return msg_id

    def _receive_until(self, wanted: Callable[[dict], bool], *, deadline: float) -> dict:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.socket.settimeout(remaining)
            try:
                raw = self.socket.recv()
            except websocket.WebSocketTimeoutException:
                raise TimeoutError from None
            except (OSError, websocket.WebSocketException) as error:
                raise KernelError(f"kernel websocket closed: {type(error).__name__}") from error
            if isinstance(raw, bytes):
                continue  # binary frames carry buffers (widgets); nothing we store
            message = json.loads(raw)
            if wanted(message):
                return message


def open_checked_socket(url: str, peer_policy: PeerPolicy, *, timeout: float) -> socket.socket:
    """A connection to the ws:// or wss:// URL's host, TLS-wrapped for wss://, once `peer_policy` accepted
    the address it reached: the host name is resolved again here, and may answer differently than at the
    URL's check (DNS rebinding). Given as `socket=`, websocket-client neither connects nor wraps it again."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    sock = socket.create_connection((parts.hostname, parts.port or (443 if secure else 80)), timeout=timeout)
    try:
        peer_policy(sock.getpeername()[0])
        for option in websocket.DEFAULT_SOCKET_OPTION:  # what websocket-client sets on its own sockets
            sock.setsockopt(*option)
        return _tls_context().wrap_socket(sock, server_hostname=parts.hostname) if secure else sock
    except BaseException:
        sock.close()
        raise


def _through_proxy(url: str) -> bool:
    """Whether websocket-client sends `url` through an outbound proxy (http_proxy/https_proxy, no_proxy)."""
    parts = urlsplit(url)
    proxy_host, _, _ = get_proxy_info(parts.hostname, parts.scheme == "wss")
    return bool(proxy_host)


def _tls_context() -> ssl.SSLContext:
    """Certificates and host names verified, against the CA bundle websocket-client would have used: its
    WEBSOCKET_CLIENT_CA_BUNDLE (a file or a directory), else the system's."""
    bundle = os.environ.get("WEBSOCKET_CLIENT_CA_BUNDLE", "")
    if os.path.isfile(bundle):
        return ssl.create_default_context(cafile=bundle)
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context()


def _reply_to(msg_id: str, msg_type: str) -> Callable[[dict], bool]:
    return lambda message: _parent(message) == msg_id and message["msg_type"] == msg_type


def _parent(message: dict) -> str | None:
    return (message.get("parent_header") or {}).get("msg_id")


def _collect(message: dict, result: CellResult, state: dict) -> None:
    kind, content, channel = message["msg_type"], message.get("content", {}), message.get("channel")
    if channel == "iopub" and kind == "status":
        state["idle"] = state["idle"] or content.get("execution_state") == "idle"
    elif channel == "iopub" and kind == "execute_input":
        result.execution_count = content.get("execution_count")
    elif channel == "iopub" and kind in OUTPUT_TYPES:
        result.outputs.append(_output(kind, content))
    elif channel == "iopub" and kind == "clear_output":
        result.outputs.clear()
    elif channel == "shell" and kind == "execute_reply":
        state["reply"] = True
        result.execution_count = content.get("execution_count", result.execution_count)
        if content.get("status") != "ok":
            result.status = "error"
            result.ename, result.evalue = content.get("ename", ""), content.get("evalue", "")
            result.traceback = content.get("traceback", [])


def _output(kind: str, content: dict) -> dict:
    """An iopub message as an nbformat v4 output."""
    if kind == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"), "text": content.get("text", "")}
    if kind == "error":
        return {"output_type": "error", "ename": content.get("ename", ""), "evalue": content.get("evalue", ""),
                "traceback": content.get("traceback", [])}
    output = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
    if kind == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output
