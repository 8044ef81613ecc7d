"""The embedded default's filesystem broker survives concurrent publishers: no consumer ever reads a
half-written message (stock kombu's transport let a worker die on exactly that)."""
import threading

from kombu import Connection

from esap import broker
from tests.servers.worker import broker_options

PUBLISHERS, MESSAGES = 8, 40


def test_concurrent_publishers_and_a_consumer_exchange_every_message_once(tmp_path):
    broker.register()
    options = broker_options(tmp_path)
    received: list[int] = []
    done = threading.Event()

    def publish(offset: int) -> None:
        with Connection("localfs://", transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
            for number in range(offset, offset + MESSAGES):
                queue.put({"n": number})
            queue.close()

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

    # The queue exists before the race starts, as the worker's own declaration makes it in the portal. On
    # a fresh broker folder, concurrent *first* publishers of one process have been seen losing messages
    # (not explained yet; a lost checkout is enqueued again by the sweeper): not what this test is about.
    with Connection("localfs://", transport_options=options) as connection:
        connection.SimpleQueue("race").close()
    consumer = threading.Thread(target=consume)
    consumer.start()
    publishers = [threading.Thread(target=publish, args=(i * MESSAGES,)) for i in range(PUBLISHERS)]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join()
    consumer.join(timeout=60)
    done.set()

    assert sorted(received) == list(range(PUBLISHERS * MESSAGES))
    assert not list((tmp_path / "queue").glob(".partial-*"))
