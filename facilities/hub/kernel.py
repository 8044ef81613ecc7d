"""Executing code on a Jupyter kernel over its websocket, with the Jupyter messaging protocol (v5)."""
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self

import websocket

from facilities.hub.errors import KernelError, ServerNotRunning

OUTPUT_TYPES = {"stream", "execute_result", "display_data", "error"}


@dataclass
class CellResult:
    status: str  # "ok", "error" or "timeout"
    execution_count: int | None = None
    outputs: list[dict] = field(default_factory=list)
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)


class KernelConnection:
    def __init__(self, url: str, *, token: str, session_id: str, connect_timeout: float = 10.0) -> None:
        self.url = f"{url}?session_id={session_id}"
        self.session_id = session_id
        self._token = token
        self.connect_timeout = connect_timeout
        self.socket: websocket.WebSocket | None = None

    def __enter__(self) -> Self:
        try:
            self.socket = websocket.create_connection(
                self.url, timeout=self.connect_timeout,
                header=[f"Authorization: token {self._token}", "Sec-Fetch-Mode: websocket"],
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
