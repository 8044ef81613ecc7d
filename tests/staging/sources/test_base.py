"""The staging contract's waiting policy: how soon a later run looks again at data still in transit."""
from staging.sources.base import MAX_RECHECK_SECONDS, StagingTarget

STARTED = 1_000_000.0


def target(**fields) -> StagingTarget:
    return StagingTarget("hub", started_at=STARTED, **{"deadline_seconds": 86_400, "recheck_seconds": 60, **fields})


def test_data_in_transit_is_looked_at_again_soon_at_first():
    assert target().recheck_in(STARTED + 5) == 60


def test_the_longer_a_copy_takes_the_less_often_it_is_looked_at():
    assert target().recheck_in(STARTED + 3600) == 360  # a tenth of the time spent so far


def test_a_long_copy_is_still_looked_at_every_ten_minutes():
    assert target().recheck_in(STARTED + 20 * 3600) == MAX_RECHECK_SECONDS == 600


def test_the_last_look_comes_at_the_deadline_not_after_it():
    assert target(deadline_seconds=90).recheck_in(STARTED + 60) == 30
    assert target(deadline_seconds=90).recheck_in(STARTED + 95) == 0


def test_the_deadline_counts_from_when_staging_began():
    assert target(deadline_seconds=90).deadline_at == STARTED + 90
