"""What operators watch, read from the database at the moment of asking: the same answer whichever web
process or machine is asked, with nothing kept in memory between scrapes. Plain data; esap.metrics_view
renders it in Prometheus's text format.

A fixed number of queries, whatever the number of rows: counts by state (read from the (state,
finished_at) index alone), the live launches (few, found by that index), the launches ended in the last
hour (a range of that index per terminal state), the facilities, and two catalogue counts."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from facilities.models import Facility, Health
from staging.checkout.states import State, TERMINAL
from staging.models import Checkout, Dataset
from workflows.models import Workflow

LIVE: tuple[State, ...] = tuple(state for state in State if state not in TERMINAL)
RECENT = timedelta(hours=1)
# What a launch that ended came to. A stopped launch had been ready (its finished_at is when it was).
OUTCOMES: dict[State, str] = {State.READY: "ready", State.STOPPED: "ready", State.FAILED: "failed",
                              State.CANCELLED: "cancelled"}
HEALTH_STATES: tuple[str, ...] = tuple(Health.values)


@dataclass(frozen=True)
class FacilityStatus:
    slug: str
    health: str
    probe_age_seconds: float | None  # None: never probed


@dataclass(frozen=True)
class PortalMetrics:
    checkouts_by_state: dict[str, int]
    live_checkouts_by_facility: dict[str, int]
    oldest_waiting_seconds_by_state: dict[str, float]  # live states only; 0 where none waits
    ended_last_hour_by_outcome: dict[str, int]
    facilities: list[FacilityStatus]
    datasets: int
    workflows: int


def portal_metrics(*, now: datetime | None = None) -> PortalMetrics:
    now = now or timezone.now()
    facilities = facility_statuses(now=now)
    live_by_facility, oldest = live_checkouts(now=now, facility_slugs=[f.slug for f in facilities])
    return PortalMetrics(
        checkouts_by_state=checkouts_by_state(),
        live_checkouts_by_facility=live_by_facility,
        oldest_waiting_seconds_by_state=oldest,
        ended_last_hour_by_outcome=checkouts_ended_since(now - RECENT),
        facilities=facilities,
        datasets=Dataset.objects.count(),
        workflows=Workflow.objects.filter(withdrawn_at__isnull=True).count(),
    )


def checkouts_by_state() -> dict[str, int]:
    """Every state, 0 where no launch is in it (a series that vanished would read as no data, not 0)."""
    counted = Checkout.objects.order_by().values("state").annotate(count=Count("*"))
    counts = {row["state"]: row["count"] for row in counted}
    return {state.value: counts.get(state.value, 0) for state in State}


def live_checkouts(*, now: datetime, facility_slugs: list[str]) -> tuple[dict[str, int], dict[str, float]]:
    """Launches not yet ended: how many per facility (every known facility, 0 included), and how long the
    longest-waiting one of each live state has been in it. A launch that has not left `created` has no
    state_since yet: it has waited since it was set going."""
    rows = (Checkout.objects.filter(state__in=LIVE).order_by().values("state", "facility_slug")
            .annotate(count=Count("*"), since=Min(Coalesce("state_since", "launched_at", "created_at"))))
    by_facility = dict.fromkeys(facility_slugs, 0)
    oldest: dict[str, datetime] = {}
    for row in rows:
        by_facility[row["facility_slug"]] = by_facility.get(row["facility_slug"], 0) + row["count"]
        oldest[row["state"]] = min(row["since"], oldest.get(row["state"], row["since"]))
    waiting = {state.value: _seconds_since(oldest[state.value], now) if state.value in oldest else 0.0
               for state in LIVE}
    return by_facility, waiting


def checkouts_ended_since(start: datetime) -> dict[str, int]:
    rows = (Checkout.objects.filter(state__in=OUTCOMES, finished_at__gte=start).order_by().values("state")
            .annotate(count=Count("*")))
    ended = {outcome: 0 for outcome in OUTCOMES.values()}
    for row in rows:
        ended[OUTCOMES[State(row["state"])]] += row["count"]
    return ended


def facility_statuses(*, now: datetime) -> list[FacilityStatus]:
    rows = Facility.objects.order_by("slug").values_list("slug", "health", "probed_at")
    return [FacilityStatus(slug=slug, health=health,
                           probe_age_seconds=None if probed_at is None else _seconds_since(probed_at, now))
            for slug, health, probed_at in rows]


def _seconds_since(moment: datetime, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0)  # a clock a little ahead elsewhere is not negative age

