"""A real SMTP server on 127.0.0.1 for the suite (aiosmtpd, in a thread of the test process): the
portal's worker sends its e-mails to it over SMTP, as it would to the operators' relay. Like a relay it
answers some recipients with "later" (busy-*: 451) or "never" (nobody-*: 550)."""
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.servers.stack import free_port


@dataclass
class MailServer:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)  # (envelope recipients, mail)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:  # aiosmtpd's hooks
        if address.startswith("busy-"):
            return "451 4.2.1 Mailbox busy, try again later"
        if address.startswith("nobody-"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """What this address was sent, by the envelope: Bcc recipients included."""
        with self._lock:
            return [message for recipients, message in self.received if address in recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count:
            assert time.monotonic() < deadline, f"{count} e-mail(s) to {address} not within {timeout} s"
            time.sleep(0.1)
        return self.to(address)


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    port = free_port()  # aiosmtpd checks its own start by connecting: it needs the port first
    server = MailServer(port=port)
    controller = Controller(server, hostname=server.host, port=port)
    controller.start()
    yield server
    controller.stop()
