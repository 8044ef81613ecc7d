"""Progress as a protocol: the checkout's events as JSON, and as a server-sent event stream that ends
with exactly one terminal event (`ready` with the URL, `failed` with the reason, `cancelled` or `stopped`)."""
import json
import re
import time
from collections.abc import Iterator
from string import Formatter
from typing import Any

from esap.errors import MESSAGES, needs_an_operator
from staging.checkout.services import retry_refusal
from staging.checkout.states import State, TERMINAL
from staging.models import Checkout, CheckoutEvent
from staging.selectors import server_stop_outcome

KEEPALIVE_SECONDS = 8.0
STOP_OUTCOMES = {None: "This launch has ended; its server is being stopped.",
                 True: "This launch has ended; its server was stopped.",
                 False: "This launch has ended, but its server could not be stopped; try again."}


def event_json(event: CheckoutEvent) -> dict[str, Any]:
    return {"id": event.pk, "phase": event.phase, "message": event.message, "progress": event.progress,
            "data": event.data, "time": event.created_at.isoformat()}


def terminal_json(checkout: Checkout) -> dict[str, Any] | None:
    if checkout.state == State.READY:
        return {"event": "ready", "url": checkout.lab_url}
    if checkout.state == State.FAILED:
        summary, detail = failure_parts(checkout.error_code, checkout.error_message)
        refusal = retry_refusal(checkout)
        return {"event": "failed", "code": checkout.error_code, "reason": checkout.error_message,
                "summary": summary, "detail": detail, "step": checkout.failed_step,
                "retryable": refusal is None, "retry_refused": refusal.message if refusal else "",
                "needs_operator": needs_an_operator(checkout.error_code, step=checkout.failed_step)}
    if checkout.state == State.CANCELLED:
        return {"event": "cancelled", "reason": _cancel_message(checkout)}
    if checkout.state == State.STOPPED:
        stopped = server_stop_outcome(checkout_id=checkout.pk)
        return {"event": "stopped", "server_stopped": stopped, "reason": STOP_OUTCOMES[stopped]}
    return None


def failure_parts(code: str, message: str) -> tuple[str, str]:
    """A failure's stored message as its sentence for people and the remote system's own words (its
    template's `{detail}`, e.g. the hub's answer); (message, "") when it has none."""
    template = MESSAGES.get(code, "")
    found = re.fullmatch(_pattern(template), message, re.DOTALL) if "{detail}" in template else None
    if not found or not found["detail"].strip():
        return message, ""
    return message[:found.start("detail")].rstrip(" :;") + ".", found["detail"]


def _pattern(template: str) -> str:
    """The template as a regular expression: any text for each field, `{detail}` as a group."""
    parts = []
    for text, field, _, _ in Formatter().parse(template):
        parts.append(re.escape(text))
        if field is not None:
            parts.append("(?P<detail>.*)" if field == "detail" else ".*")
    return "".join(parts)


def _cancel_message(checkout: Checkout) -> str:
    """Who cancelled it, as its cancel event says: the user, or an operator (the first event of the phase:
    the server's stop records its outcome in the same phase afterwards)."""
    events = checkout.events.filter(phase=State.CANCELLED).order_by("pk")
    return events.values_list("message", flat=True).first() or "Cancelled."


def _awaiting_stop(terminal: dict[str, Any]) -> bool:
    """A stopped launch's stream ends with the stop's outcome, not before."""
    return terminal["event"] == "stopped" and terminal["server_stopped"] is None


def events_payload(*, checkout: Checkout, after: int = 0) -> dict[str, Any]:
    events = [event_json(event) for event in checkout.events.filter(pk__gt=after)]
    return {"checkout": str(checkout.pk), "state": checkout.state, "events": events,
            "terminal": terminal_json(checkout)}


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def event_stream(checkout_id: Any, *, after: int = 0, poll_seconds: float = 0.25,
                 max_seconds: float = 300.0) -> Iterator[str]:
    """Stream events as they are written; the browser's EventSource reconnects with Last-Event-ID
    when `max_seconds` ends a stream early, so no worker is held forever."""
    yield "retry: 1000\n\n"
    started = last_sent = time.monotonic()
    while time.monotonic() - started < max_seconds:
        # State first, then events: a terminal state read here has all its events committed already.
        checkout = Checkout.objects.only("state", "lab_url", "error_code", "error_message",
                                         "failed_step").get(pk=checkout_id)
        for event in CheckoutEvent.objects.filter(checkout_id=checkout_id, pk__gt=after):
            after = event.pk
            last_sent = time.monotonic()
            yield sse("progress", event_json(event), event.pk)
        terminal = terminal_json(checkout) if checkout.state in TERMINAL else None
        if terminal and not _awaiting_stop(terminal):
            yield sse(terminal["event"], terminal, after)
            return
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        time.sleep(poll_seconds)
