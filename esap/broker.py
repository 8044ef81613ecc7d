"""The embedded default's Celery broker: kombu's filesystem transport with atomic message writes.

Stock kombu writes a message file in place while a consumer may already move and read it, so a worker
can read an empty file and die with a JSONDecodeError when messages are published concurrently. Here a
message is written under a name no consumer looks for and then renamed into place, which is atomic;
a routing table read while another process first creates it is read again; and a binding is written
to its exchange file before the process counts it as made.
Production uses Redis (ESAP_BROKER_URL=redis://...); this keeps a newcomer free of any broker daemon.
"""
import os
import time
import uuid

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps
from kombu.utils.objects import cached_property

SCHEME = "localfs"


class Channel(filesystem.Channel):
    def queue_bind(self, queue: str, exchange: str | None = None, routing_key: str = "", arguments=None,
                   **kwargs) -> None:
        # kombu records a binding for the whole process before it writes the exchange file: another thread
        # that sees the binding publishes, finds no file yet, and the message is dropped without a word
        # (seen when a fresh broker folder meets concurrent first publishers). Write the file first.
        exchange = exchange or "amq.direct"
        if not self.state.has_binding(queue, exchange, routing_key):
            self._queue_bind(exchange, *self.typeof(exchange).prepare_bind(queue, exchange, routing_key,
                                                                          arguments))
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)

    def get_table(self, exchange: str) -> list:
        # Two first-time binds may truncate the exchange file while a publisher reads it; read again.
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
