"""Faults of a Rucio server that cannot be provoked on the real one without breaking it for the rest of
the run."""
import socket
import threading


class HangingSocket:
    """A TCP port on 127.0.0.1 that accepts connections and never answers: a hung Rucio server."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._accepted.append(connection)  # held open, never read, never answered

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for connection in self._accepted:
            connection.close()

    def __enter__(self) -> "HangingSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens: Rucio down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"
