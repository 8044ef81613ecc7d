"""The life of the portal's replication rules in a Rucio instance: ours for a DID and RSE expression is made,
or an earlier one reused and kept alive for the instance's rule lifetime, then polled until Rucio has copied
every file, a copy is stuck, or the staging deadline passes. Staging by rule on top of this is rucio.py's.
"""
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from rucio.common import exception as rucio_errors

from staging.sources.base import DatasetRef, Report, StagingError, StagingPending, StagingTarget, silent
from staging.sources.rucio_connection import Client, RucioInstance, for_dataset, reason, translated_errors

LOG = logging.getLogger("staging.sources.rucio")  # the adapter's log, as before rules had a module

# Rucio exceptions that say Rucio cannot be used, not that it refused one request.
_OUTAGES = (rucio_errors.CannotAuthenticate, rucio_errors.ServerConnectionException,
            rucio_errors.DatabaseException)

POLL_SECONDS = (0.2, 1.0)  # first and longest pause between polls of a rule (the pause doubles)
# Only Rucio administrators may boost or replace a rule (the generic permission policy), so the portal's
# account cannot make Rucio try a stuck copy again; a retry finds the same rule.
STUCK_ADVICE = ("Rucio's rule repairer retries stuck copies by itself; retry the checkout once the data "
                "lake's operators report the cause fixed.")
KEEPALIVE_SECONDS = 10.0  # report at least this often while a rule replicates (renews the worker's lease)
RENEW_MARGIN_SECONDS = 3600  # a reused rule is extended once it lives this much less than a full lifetime


def ensure_rule(client: Client, instance: RucioInstance, did: dict[str, str], rse_expression: str,
                report: Report = silent) -> str:
    """Our rule for this DID and RSE expression: a new one with the instance's lifetime, or, when Rucio
    answers DuplicateRule, the one we already have (a retried checkout reuses it), extended to live at
    least that lifetime from now."""
    try:
        return client.add_replication_rule([did], 1, rse_expression, lifetime=instance.rule_lifetime_seconds,
                                           comment=instance.comment)[0]
    except rucio_errors.DuplicateRule:
        for rule in client.list_did_rules(did["scope"], did["name"]):
            if rule["account"] == instance.account and rule["rse_expression"] == rse_expression:
                keep_for_lifetime(client, instance, rule, report)
                return rule["id"]
        raise


def keep_for_lifetime(client: Client, instance: RucioInstance, rule: dict[str, Any],
                      report: Report = silent) -> None:
    """Extend a reused rule to the instance's lifetime from now, never shortening it: otherwise a launch
    near its end gets data that Rucio may delete while the notebook reads it. A rule Rucio does not let us
    update is still used; the user is told when its data may go."""
    lifetime = instance.rule_lifetime_seconds
    expires_at = _utc(rule.get("expires_at"))
    wanted = datetime.now(timezone.utc) + timedelta(seconds=lifetime - _renew_margin(lifetime))
    if expires_at is None or expires_at >= wanted:
        return
    try:
        client.update_replication_rule(rule["id"], {"lifetime": lifetime})
    except _OUTAGES:
        raise
    except rucio_errors.RucioException as error:
        expiry = f"{expires_at:%Y-%m-%d %H:%M} UTC"
        LOG.warning("Rucio instance %s did not extend rule %s (%s); it expires at %s",
                    instance.slug, rule["id"], reason(error), expiry)
        report(f"Rucio did not let the portal extend replication rule {rule['id']} ({reason(error)}): the "
               f"data may be removed from {rule['rse_expression']} at {expiry}.",
               rule=rule["id"], expires_at=expires_at.isoformat())


def _renew_margin(lifetime: int) -> int:
    """A rule this close to a full lifetime is left alone: each later look at a parked checkout finds the
    rule again, and would otherwise update it (or warn) every time."""
    return min(RENEW_MARGIN_SECONDS, lifetime // 10)


def _utc(value: datetime | str | None) -> datetime | None:
    """rucio-clients gives times as naive UTC datetimes (strings if it could not parse them)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S UTC")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def wait_for_rules(client: Client, instance: RucioInstance, rules: dict[str, str], *, target: StagingTarget,
                   report: Report = silent) -> None:
    """Poll until every rule is OK. STUCK fails with examine_replication_rule's reason; so does the
    staging deadline, since a rule with no transfer daemon behind it stays REPLICATING forever. After
    `target.wait_seconds` the wait goes on from a later run (StagingPending): a copy may take hours."""
    run_ends = time.monotonic() + target.wait_seconds
    last_seen, pause = target.seen, POLL_SECONDS[0]
    last_report = time.time() if target.seen is not None else 0.0
    while True:
        states = {}
        for identifier_, rule_id in rules.items():
            with for_dataset(DatasetRef(identifier_)), translated_errors(instance):
                states[identifier_] = client.get_replication_rule(rule_id)
        locks = _lock_counts(states.values())
        if all(s["state"] == "OK" for s in states.values()):
            report(f"Replicated: {locks['ok']} file(s) on the facility's storage.", 100, **locks)
            return
        for identifier_, rule in states.items():
            if rule["state"] == "STUCK":
                raise StagingError(identifier_, f"replication rule {rule['id']} is STUCK: "
                                                f"{_stuckreason(client, rule)}. {STUCK_ADVICE}")
        now = time.time()
        total = sum(locks.values())
        if locks != last_seen or now - last_report > KEEPALIVE_SECONDS:
            report(f"Replicating: {locks['ok']} ok, {locks['replicating']} replicating, "
                   f"{locks['stuck']} stuck.",
                   int(100 * locks["ok"] / (total or 1)), **locks)
            last_seen, last_report = locks, now
        if now >= target.deadline_at:
            identifier_, rule = next((i, r) for i, r in states.items() if r["state"] != "OK")
            raise StagingError(identifier_, f"replication rule {rule['id']} is still {rule['state']} after "
                                            f"{target.deadline_seconds:g} s ({locks['ok']} of {total} "
                                            "file(s) replicated); the data lake may be busy, retry later")
        left_in_run = run_ends - time.monotonic()
        if left_in_run <= 0:
            raise StagingPending(f"Replicating: {locks['ok']} of {total} file(s) on the facility's storage",
                                 retry_in=target.recheck_in(now))
        time.sleep(min(pause, max(min(left_in_run, target.deadline_at - now), 0.05)))
        pause = min(pause * 2, POLL_SECONDS[1])


def _lock_counts(rules) -> dict[str, int]:
    rules = list(rules)
    return {"ok": sum(r["locks_ok_cnt"] for r in rules),
            "replicating": sum(r["locks_replicating_cnt"] for r in rules),
            "stuck": sum(r["locks_stuck_cnt"] for r in rules)}


def _stuckreason(client: Client, rule: dict[str, Any]) -> str:
    """The last attempt's error of each stuck transfer, as examine_replication_rule gives it."""
    try:
        examined = client.examine_replication_rule(rule["id"])
    except rucio_errors.RucioException:
        return rule.get("error") or "no reason given"
    reasons = [f"{t['name']}: {t.get('last_error') or 'no error recorded'} (attempts: {t.get('attempts')})"
               for t in examined.get("transfers", [])]
    return "; ".join(reasons) or rule.get("error") or examined.get("rule_error") or "no reason given"
