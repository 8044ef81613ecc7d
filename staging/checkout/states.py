"""The checkout state machine: its states, phases of progress, and the one table of allowed moves."""
from enum import StrEnum


class State(StrEnum):
    CREATED = "created"
    STAGING = "staging"
    SPAWNING = "spawning"
    UPLOADING = "uploading"
    EXECUTING = "executing"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"  # was ready; the user ended the session and its server was stopped


STEPS: tuple[State, ...] = (State.STAGING, State.SPAWNING, State.UPLOADING, State.EXECUTING)
TERMINAL: frozenset[State] = frozenset({State.READY, State.FAILED, State.CANCELLED, State.STOPPED})
ENDED: frozenset[State] = frozenset({State.READY, State.CANCELLED, State.STOPPED})
# A server of ours may still run on the facility; stopping it is the user's way to end the launch.
SERVER_TO_STOP: frozenset[State] = frozenset({State.CANCELLED, State.STOPPED})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.STAGING, State.FAILED, State.CANCELLED}),
    State.STAGING: frozenset({State.SPAWNING, State.FAILED, State.CANCELLED}),
    State.SPAWNING: frozenset({State.UPLOADING, State.FAILED, State.CANCELLED}),
    State.UPLOADING: frozenset({State.EXECUTING, State.FAILED, State.CANCELLED}),
    State.EXECUTING: frozenset({State.READY, State.FAILED, State.CANCELLED}),
    # Retry moves a failed checkout back to the step that failed.
    State.FAILED: frozenset({*STEPS, State.CANCELLED}),
    State.READY: frozenset({State.STOPPED}),
    State.CANCELLED: frozenset(),
    State.STOPPED: frozenset(),
}


def allowed(source: State | str, target: State | str) -> bool:
    return State(target) in TRANSITIONS[State(source)]


def next_step(step: State) -> State:
    """The state after a finished step: the next step, or READY after the last."""
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else State.READY
