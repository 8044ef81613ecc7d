"""Real HTTP servers for harvest tests: Git's smart HTTP (git http-backend as CGI, optionally sending slowly),
a server that redirects every request elsewhere, and one that accepts connections and never answers."""
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.respond(self)  # type: ignore[attr-defined]

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), _Handler)
        self.requests: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(handler.path)
        self.answer(handler)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class GitHttpServer(_Server):
    """Serves the repositories under `root`; with `bytes_per_second`, bodies are sent at that rate and
    `sent` counts what actually left. Without `protocol_v2` it speaks only Git's original protocol, in
    which the transfer runs in git's helper processes (git-remote-http, fetch-pack, index-pack), not in
    git itself."""

    def __init__(self, root: Path, host: str = "127.0.0.1", bytes_per_second: int | None = None,
                 protocol_v2: bool = True) -> None:
        self.root, self.bytes_per_second, self.protocol_v2, self.sent = root, bytes_per_second, protocol_v2, 0
        super().__init__(host)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        protocol = handler.headers.get("Git-Protocol", "") if self.protocol_v2 else ""
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": handler.command,
               "CONTENT_TYPE": handler.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
               "HTTP_GIT_PROTOCOL": protocol, "GIT_CONFIG_NOSYSTEM": "1"}
        cgi = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=True)
        head, _, content = cgi.stdout.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        handler.send_response(int(headers.pop("Status", "200").split()[0]))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        self._send(handler, content)

    def _send(self, handler: BaseHTTPRequestHandler, content: bytes) -> None:
        chunk = 16 * 1024
        for start in range(0, len(content), chunk):
            handler.wfile.write(content[start:start + chunk])
            self.sent += len(content[start:start + chunk])
            if self.bytes_per_second:
                time.sleep(chunk / self.bytes_per_second)


class RedirectingServer(_Server):
    """Answers every request with a redirect to the same path on `target`."""

    def __init__(self, target: str, host: str = "127.0.0.1") -> None:
        self.target = target
        super().__init__(host)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", self.target + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


class SilentServer:
    """Accepts connections and never answers; gives up after `give_up_seconds` so that a harvest which
    ignores its own time limit fails its test instead of hanging it."""

    def __init__(self, give_up_seconds: float = 20.0) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        self.give_up_seconds = give_up_seconds
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        self.socket.settimeout(self.give_up_seconds)
        deadline = time.monotonic() + self.give_up_seconds
        try:
            while time.monotonic() < deadline:
                self.accepted.append(self.socket.accept()[0])
        except OSError:
            pass
        self.stop()

    def stop(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.socket.close()


def processes_of(marker: str, folder: Path) -> list[str]:
    """Command lines of the running processes that mention `marker` or work inside `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in command or Path(cwd).is_relative_to(folder):
            found.append(command)
    return found
