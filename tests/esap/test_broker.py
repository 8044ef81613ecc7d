"""The embedded default's filesystem broker survives concurrent publishers on a fresh broker folder: every
message arrives once, no consumer reads a half-written message, and no publisher dies on a routing table
another is still writing (stock kombu's transport lost messages both ways)."""
import threading

from kombu import Connection

from esap import broker
from tests.servers.worker import broker_options

PUBLISHERS, MESSAGES = 16, 20


def test_concurrent_first_publishers_and_a_consumer_exchange_every_message_once(tmp_path):
    broker.register()
    options = broker_options(tmp_path)
    received: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def recording_errors(work):
        def run(*args) -> None:
            try:
                work(*args)
            except BaseException as error:
                errors.append(error)
        return run

    @recording_errors
    def publish(offset: int) -> None:
        with Connection("localfs://", transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
            for number in range(offset, offset + MESSAGES):
                queue.put({"n": number})
            queue.close()

    @recording_errors
    def consume() -> None:
        with Connection("localfs://", transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
            while len(received) < PUBLISHERS * MESSAGES and not done.is_set():
                try:
                    message = queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                received.append(message.payload["n"])
                message.ack()
            queue.close()

    consumer = threading.Thread(target=consume)
    consumer.start()
    publishers = [threading.Thread(target=publish, args=(i * MESSAGES,)) for i in range(PUBLISHERS)]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join()
    consumer.join(timeout=60)
    done.set()

    assert errors == []
    assert sorted(received) == list(range(PUBLISHERS * MESSAGES))
    assert not list((tmp_path / "queue").glob(".partial-*"))
