"""The embedded default's Celery broker: kombu's filesystem transport with atomic message writes.

Stock kombu writes a message file in place while a consumer may already move and read it, so a worker
can read an empty file and die with a JSONDecodeError when messages are published concurrently. Here a
message is written under a name no consumer looks for and then renamed into place, which is atomic;
an exchange file is created, read and rewritten under one lock, so that two first binds never read
each other's empty file; a routing table read while another process first creates it is read again;
and a binding is written to its exchange file before the connection counts it as made.
Production uses Redis (ESAP_BROKER_URL=redis://...); this keeps a newcomer free of any broker daemon.
"""
import os
import time
import uuid

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

SCHEME = "localfs"


class Channel(filesystem.Channel):
    def queue_bind(self, queue: str, exchange: str | None = None, routing_key: str = "", arguments=None,
                   **kwargs) -> None:
        # kombu records a binding for the connection before it writes the exchange file: another thread
        # that sees the binding publishes, finds no file yet, and the message is dropped without a word
        # (seen when a fresh broker folder meets concurrent first publishers). Write the file first.
        exchange = exchange or "amq.direct"
        if not self.state.has_binding(queue, exchange, routing_key):
            self._queue_bind(exchange, *self.typeof(exchange).prepare_bind(queue, exchange, routing_key,
                                                                          arguments))
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        # Stock kombu creates the file with one open() and locks it after: a second first bind could lock the
        # still-empty file, fail to parse it, and its publisher died with every message it had to send.
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        try:
            with open(os.open(file, os.O_RDWR | os.O_CREAT, 0o644), "rb+", buffering=0) as handle:
                filesystem.lock(handle, filesystem.LOCK_EX)
                try:
                    content = handle.read()
                    table = [filesystem.exchange_queue_t(*row) for row in loads(content)] if content else []
                    if binding not in table:
                        handle.seek(0)
                        handle.write(str_to_bytes(dumps([binding, *table])))
                        handle.truncate()
                finally:
                    filesystem.unlock(handle)
        except OSError as error:
            raise filesystem.ChannelError(f"Cannot open {file}") from error

    def get_table(self, exchange: str) -> list:
        # A reader can lock a file just created and not yet written; read again.
        for _ in range(50):
            try:
                return super().get_table(exchange)
            except ValueError:
                time.sleep(0.01)
        return super().get_table(exchange)

    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        name = f"{filesystem.monotonic() * 1000:.0f}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: the consumer only takes names whose part after the first dot is "<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".partial-{name}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel

    @cached_property
    def driver_name(self) -> str:
        return SCHEME


def register() -> None:
    TRANSPORT_ALIASES[SCHEME] = "esap.broker:Transport"
