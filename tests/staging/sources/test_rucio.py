"""The Rucio adapter against a real Rucio server: it finds datasets, stages them by replication rule or by
download, and turns every fault into a StagingError the user can read."""
import logging
import threading
import time
import zlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from staging.sources import rucio
from staging.sources.base import DatasetRef, SourceUnavailable, StagingError, StagingPending, StagingTarget
from tests.servers.rucio.clients import instance_for
from tests.servers.rucio.faults import HangingSocket, closed_port_url
from tests.servers.rucio.localrucio import FACILITY_RSE, SCOPE, SOURCE_RSE, Login

pytestmark = pytest.mark.rucio


@pytest.fixture
def lake(rucio_server):
    return instance_for(rucio_server, rucio_server.portal)


@pytest.fixture
def source(lake):
    return rucio.RucioSource(instances=lambda slug: lake)


def refs(lake, *names: str) -> list[DatasetRef]:
    return [DatasetRef(rucio.identifier(lake.slug, SCOPE, n),
                       {"instance": lake.slug, "scope": SCOPE, "name": n})
            for n in names]


def rule_target(rucio_server, *, deadline: int = 60, mount_path: str = "", **waiting) -> StagingTarget:
    return StagingTarget(facility_slug="hub-b", staging_mode="rule", rse_expression=FACILITY_RSE,
                         mount_path=mount_path or str(rucio_server.rse_prefix(FACILITY_RSE)),
                         deadline_seconds=deadline, **waiting)


class Recorder(list):
    def __call__(self, message, progress=None, **data):
        self.append((message, progress, data))


# --- finding datasets --------------------------------------------------------------------------------

def test_search_finds_datasets_by_scope_and_name_pattern_with_their_sizes(rucio_server, lake, rucio_dataset):
    name, files = rucio_dataset({"a.csv": b"12345", "b.csv": b"123"}, prefix="survey")

    records = rucio.search(lake, scope=SCOPE, name=f"{name[:-1]}*")

    record = next(r for r in records if r.title == name)
    assert record.source == "rucio" and record.identifier == f"{lake.slug}/{SCOPE}:{name}"
    assert record.size_bytes == 8
    assert record.metadata == {"instance": lake.slug, "scope": SCOPE, "name": name, "did_type": "DATASET",
                               "files": 2, "keywords": [SCOPE]}
    assert "2 file(s)" in record.description


def test_search_filters_by_metadata(rucio_server, lake, rucio_dataset):
    tagged, _ = rucio_dataset(prefix="meta", metadata={"project": "esap-tagged", "datatype": "RAW"})
    untagged, _ = rucio_dataset(prefix="meta")

    found = rucio.search(lake, scope=SCOPE, name="meta-*", metadata={"project": "esap-tagged"})

    titles = [r.title for r in found]
    assert tagged in titles and untagged not in titles
    record = next(r for r in rucio.search(lake, scope=SCOPE, name=tagged))
    assert record.metadata["project"] == "esap-tagged" and record.metadata["datatype"] == "RAW"


def test_list_files_gives_each_file_with_its_size_and_checksum(lake, rucio_dataset):
    name, files = rucio_dataset({"one.txt": b"one", "two.txt": b"two!"})

    listed = sorted(rucio.list_files(lake, SCOPE, name), key=lambda f: f.name)

    assert [(f.name, f.bytes) for f in listed] == [(files[0], 3), (files[1], 4)]
    assert listed[0].adler32 == f"{zlib.adler32(b'one'):08x}"


# --- staging by replication rule ---------------------------------------------------------------------

def test_rule_mode_replicates_to_the_facility_and_gives_mounted_paths(rucio_server, lake, source,
                                                                      rucio_dataset):
    name, files = rucio_dataset({"lc.csv": b"t,flux\n0,1.5\n", "meta.txt": b"crab"})
    progress = Recorder()

    [staged] = source.stage(refs(lake, name), target=rule_target(rucio_server), report=progress)

    paths = staged.details["files"]
    assert len(paths) == 2 and all(p.startswith(str(rucio_server.rse_prefix(FACILITY_RSE))) for p in paths)
    assert sorted(Path(p).read_bytes() for p in paths) == [b"crab", b"t,flux\n0,1.5\n"]
    assert staged.details["did"] == f"{SCOPE}:{name}" and staged.details["rse_expression"] == FACILITY_RSE
    rule = rucio_server.client(rucio_server.portal).get_replication_rule(staged.details["rule_id"])
    assert (rule["state"], rule["account"], rule["expires_at"] is not None) == ("OK", "esap", True)
    assert progress[-1][1] == 100 and progress[-1][2]["ok"] == 2
    assert any("replicating" in data for _, _, data in progress)


def test_paths_are_mapped_from_the_rse_prefix_onto_the_mount_path(rucio_server, lake, source, rucio_dataset):
    name, files = rucio_dataset({"x.txt": b"x"})

    [staged] = source.stage(refs(lake, name), target=rule_target(rucio_server, mount_path="/data/lake"))

    assert staged.location == f"/data/lake/{rucio_server.lfn2pfn(files[0])}"


def test_staging_again_reuses_our_rule_instead_of_failing_on_duplicate_rule(rucio_server, lake, source,
                                                                           rucio_dataset):
    name, _ = rucio_dataset()
    [first] = source.stage(refs(lake, name), target=rule_target(rucio_server))

    [second] = source.stage(refs(lake, name), target=rule_target(rucio_server))

    assert second.details["rule_id"] == first.details["rule_id"]
    rules = [r for r in rucio_server.client().list_did_rules(SCOPE, name)
             if r["rse_expression"] == FACILITY_RSE]
    assert len(rules) == 1


# --- a reused rule keeps the data for the lake's rule lifetime ----------------------------------------

HOUR = 3600


@pytest.fixture(scope="module")
def rule_admin(rucio_server) -> Login:
    """A portal account Rucio lets update its own rules: under the test server's generic permission
    policy only an administrator may (the `esap` account gets AccessDenied)."""
    login = Login("esap-admin", "esap-admin", "admin-pass-1")
    root = rucio_server.client()
    root.add_account(login.account, "USER", "esap-admin@example.org")
    root.add_identity(login.account, login.username, "USERPASS", "esap-admin@example.org", default=True,
                      password=login.password)
    root.add_account_attribute(login.account, "admin", "True")
    for rse in (SOURCE_RSE, FACILITY_RSE):
        root.set_local_account_limit(login.account, rse, -1)
    return login


def existing_rule(lake, name: str, *, lifetime: int) -> str:
    """A rule of the lake's account on the facility, as an earlier checkout left it."""
    did = {"scope": SCOPE, "name": name}
    return rucio.connect(lake).add_replication_rule([did], 1, FACILITY_RSE, lifetime=lifetime)[0]


def expires_at(rucio_server, rule_id: str) -> datetime:
    expiry = rucio_server.client().get_replication_rule(rule_id)["expires_at"]
    return expiry.replace(tzinfo=timezone.utc)


def from_now(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def test_staging_again_extends_our_rule_to_the_lakes_lifetime_from_now(rucio_server, rucio_dataset,
                                                                      rule_admin):
    lake = instance_for(rucio_server, rule_admin, rule_lifetime_seconds=2 * HOUR)
    name, _ = rucio_dataset()
    rule_id = existing_rule(lake, name, lifetime=300)  # an earlier launch's rule, minutes from its end

    [staged] = rucio.RucioSource(instances=lambda slug: lake).stage(refs(lake, name),
                                                                   target=rule_target(rucio_server))

    assert staged.details["rule_id"] == rule_id
    assert abs(expires_at(rucio_server, rule_id) - from_now(2 * HOUR)) < timedelta(minutes=1)


def test_staging_again_never_shortens_a_rule_that_lives_longer_than_the_lakes_lifetime(
        rucio_server, rucio_dataset, rule_admin):
    lake = instance_for(rucio_server, rule_admin, rule_lifetime_seconds=2 * HOUR)
    name, _ = rucio_dataset()
    rule_id = existing_rule(lake, name, lifetime=30 * 24 * HOUR)
    before = expires_at(rucio_server, rule_id)
    progress = Recorder()

    rucio.RucioSource(instances=lambda slug: lake).stage(refs(lake, name), target=rule_target(rucio_server),
                                                         report=progress)

    assert expires_at(rucio_server, rule_id) == before
    assert not any("may be removed" in message for message, _, _ in progress)


def test_a_rule_rucio_refuses_to_extend_is_still_used_and_the_user_told_when_its_data_may_go(
        rucio_server, rucio_dataset):
    lake = instance_for(rucio_server, rucio_server.portal, rule_lifetime_seconds=2 * HOUR)
    name, _ = rucio_dataset()
    rule_id = existing_rule(lake, name, lifetime=300)
    expiry = expires_at(rucio_server, rule_id)
    progress = Recorder()

    [staged] = rucio.RucioSource(instances=lambda slug: lake).stage(
        refs(lake, name), target=rule_target(rucio_server), report=progress)

    assert staged.details["rule_id"] == rule_id and Path(staged.location).is_file()
    [(message, _, data)] = [event for event in progress if "may be removed" in event[0]]
    assert f"at {expiry:%Y-%m-%d %H:%M} UTC" in message and rule_id in message
    assert data == {"rule": rule_id, "expires_at": expiry.isoformat()}
    assert expires_at(rucio_server, rule_id) == expiry


def test_a_rule_still_copying_when_the_run_may_wait_no_longer_is_left_to_a_later_run(rucio_server, lake, source,
                                                                                    rucio_dataset):
    name, _ = rucio_dataset({"slow.csv": b"t,flux\n0,1.5\n"})
    target = rule_target(rucio_server, wait_seconds=0, recheck_seconds=2)
    progress = Recorder()

    with pytest.raises(StagingPending) as waiting:
        source.stage(refs(lake, name), target=target, report=progress)

    assert 0 < waiting.value.retry_in <= 2
    assert waiting.value.detail == "Replicating: 0 of 1 file(s) on the facility's storage"
    assert progress[-1][2]["replicating"] == 1
    for _ in range(60):  # the later runs: same rule, until Rucio's daemons have copied the file
        try:
            [staged] = source.stage(refs(lake, name), target=target)
            break
        except StagingPending as later:
            time.sleep(later.retry_in)
    else:
        pytest.fail("the rule was still copying after 60 looks")
    assert Path(staged.details["files"][0]).read_bytes() == b"t,flux\n0,1.5\n"
    rules = [r for r in rucio_server.client().list_did_rules(SCOPE, name) if r["rse_expression"] == FACILITY_RSE]
    assert [r["id"] for r in rules] == [staged.details["rule_id"]]


def test_a_later_look_at_an_unchanged_copy_repeats_nothing_the_user_was_told(rucio_server, lake, source,
                                                                             rucio_dataset):
    name, _ = rucio_dataset({"never-copy.csv": b"stays put"})
    target = rule_target(rucio_server, wait_seconds=0)
    first_look, later_look = Recorder(), Recorder()
    with pytest.raises(StagingPending):
        source.stage(refs(lake, name), target=target, report=first_look)
    told = {key: first_look[-1][2][key] for key in ("ok", "replicating", "stuck")}

    with pytest.raises(StagingPending):
        source.stage(refs(lake, name), target=replace(target, seen=told), report=later_look)

    assert [message.split(" ")[0] for message, _, _ in first_look] == ["Replication", "Replicating:"]
    assert told == {"ok": 0, "replicating": 1, "stuck": 0} and later_look == []


def test_several_datasets_come_back_in_the_cart_order(rucio_server, lake, source, rucio_dataset):
    first, _ = rucio_dataset()
    second, _ = rucio_dataset()

    staged = source.stage(refs(lake, second, first), target=rule_target(rucio_server))

    assert [s.details["did"] for s in staged] == [f"{SCOPE}:{second}", f"{SCOPE}:{first}"]


def test_a_cart_spanning_two_instances_is_staged_from_each(rucio_server, rucio_dataset):
    lakes = {slug: instance_for(rucio_server, rucio_server.portal, slug=slug) for slug in ("east", "west")}
    source = rucio.RucioSource(instances=lakes.__getitem__)
    first, _ = rucio_dataset()
    second, _ = rucio_dataset()

    staged = source.stage(refs(lakes["west"], first) + refs(lakes["east"], second),
                          target=rule_target(rucio_server))

    assert [s.identifier for s in staged] == [f"west/{SCOPE}:{first}", f"east/{SCOPE}:{second}"]
    assert all(Path(s.location).is_file() for s in staged)


def test_mounted_path_maps_a_pfn_below_the_rse_prefix_onto_the_mount_path():
    def mounted(pfn: str, prefix: str, mount_path: str = "/mnt") -> str:
        return rucio.mounted_path(pfn, prefix, mount_path, identifier="lake/user.alice:d")

    assert mounted("file:///rse/B/portal/ab/cd/f", "/rse/B/") == "/mnt/portal/ab/cd/f"
    assert mounted("file:///rse/B/portal/ab/cd/f", "/rse/B") == "/mnt/portal/ab/cd/f"
    assert mounted("file:///rse/B/f", "/rse/B", mount_path="") == "file:///rse/B/f"
    assert mounted("file:///portal/ab/f", "/") == "/mnt/portal/ab/f"  # an RSE whose files' prefix is the root
    assert mounted("file:///portal/ab/f", "//") == "/mnt/portal/ab/f"


@pytest.mark.parametrize("pfn, prefix", [("file:///rse/Bother/f", "/rse/B"), ("file:///rse/B", "/rse/B/"),
                                         ("file:///rse/B/../A/f", "/rse/B")])
def test_fault_a_pfn_outside_the_rse_prefix_fails_staging_naming_the_file_and_the_prefix(pfn, prefix):
    with pytest.raises(StagingError) as raised:
        rucio.mounted_path(pfn, prefix, "/mnt", identifier="lake/user.alice:d")
    assert raised.value.identifier == "lake/user.alice:d"
    assert raised.value.detail == (f"its file {pfn} is not below the RSE's file prefix {prefix!r}, so it has "
                                   f"no path under the mount path /mnt")


# --- staging by download -----------------------------------------------------------------------------

def test_download_mode_fetches_the_files_in_the_worker_and_verifies_them(lake, source, rucio_dataset,
                                                                         tmp_path):
    name, files = rucio_dataset({"a.txt": b"alpha", "b.txt": b"beta"})
    target = StagingTarget("hub-d", staging_mode="download", mount_path=str(tmp_path))

    [staged] = source.stage(refs(lake, name), target=target)

    assert sorted(Path(p).read_bytes() for p in staged.details["files"]) == [b"alpha", b"beta"]
    assert all(Path(p).parent == tmp_path / SCOPE / name for p in staged.details["files"])
    [again] = source.stage(refs(lake, name), target=target)
    assert again.details["files"] == staged.details["files"]


@pytest.fixture
def slow_storage(monkeypatch) -> list[str]:
    """Stand-in for copies that take minutes (large files on a real storage; the test's are small and
    local): each copy, once written, lingers until a second copy of the same file has begun, at most 2 s.
    Returns the destination of every copy made."""
    from rucio.rse.protocols.posix import Default

    real_get, copies, begun = Default.get, [], threading.Condition()

    def get(protocol, pfn, dest, transfer_timeout=None):
        with begun:
            copies.append(dest)
            begun.notify_all()
        real_get(protocol, pfn, dest, transfer_timeout)
        with begun:
            begun.wait_for(lambda: copies.count(dest) > 1, timeout=2)
    monkeypatch.setattr(Default, "get", get)
    return copies


def test_two_launches_downloading_one_dataset_at_once_both_get_its_files_copied_once(
        lake, source, rucio_dataset, slow_storage, tmp_path):
    contents = {"a.txt": b"alpha", "b.txt": b"beta"}
    name, _ = rucio_dataset(contents)
    target = StagingTarget("hub-d", staging_mode="download", mount_path=str(tmp_path))
    start, results = threading.Barrier(2), []

    def launch() -> None:
        start.wait()
        try:
            results.append(source.stage(refs(lake, name), target=target))
        except Exception as error:
            results.append(error)
    launches = [threading.Thread(target=launch) for _ in range(2)]
    for thread in launches:
        thread.start()
    for thread in launches:
        thread.join(60)

    assert not [result for result in results if isinstance(result, Exception)]
    [[first], [second]] = results
    assert first.details["files"] == second.details["files"]
    assert sorted(Path(p).read_bytes() for p in first.details["files"]) == [b"alpha", b"beta"]
    assert len(slow_storage) == 2  # one copy per file: the second launch found the first's
    assert not list(tmp_path.rglob("*.part"))


# --- faults ------------------------------------------------------------------------------------------

def test_fault_did_not_found(rucio_server, lake, source):
    with pytest.raises(StagingError, match="no such data identifier") as failed:
        source.stage(refs(lake, "no-such-dataset"), target=rule_target(rucio_server))
    assert not isinstance(failed.value, SourceUnavailable)
    assert failed.value.identifier == f"{lake.slug}/{SCOPE}:no-such-dataset"


def test_fault_rucio_down(rucio_server, rucio_dataset, tmp_path):
    name, _ = rucio_dataset()
    down = rucio.RucioInstance("down", closed_port_url(), "esap", "u", "p", token_dir=str(tmp_path))
    source = rucio.RucioSource(instances=lambda slug: down)

    with pytest.raises(SourceUnavailable, match="could not be reached"):
        source.stage(refs(down, name), target=rule_target(rucio_server))


def test_fault_rucio_hanging_gives_up_after_the_instance_timeout(rucio_server, tmp_path):
    with HangingSocket() as hanging:
        hung = rucio.RucioInstance("hung", hanging.url, "esap", "u", "p", token_dir=str(tmp_path), timeout=1)
        source = rucio.RucioSource(instances=lambda slug: hung)
        with pytest.raises(SourceUnavailable, match="did not answer within 1 s"):
            source.stage(refs(hung, "anything"), target=rule_target(rucio_server))


def test_fault_auth_refused_without_showing_the_password(rucio_server, rucio_dataset):
    name, _ = rucio_dataset()
    wrong = instance_for(rucio_server, rucio_server.portal, slug="wrong-password")
    wrong = rucio.RucioInstance(**{**wrong.__dict__, "password": "not-the-password"})
    source = rucio.RucioSource(instances=lambda slug: wrong)

    with pytest.raises(SourceUnavailable, match="refused the portal's login") as failed:
        source.stage(refs(wrong, name), target=rule_target(rucio_server))
    assert "not-the-password" not in str(failed.value) and "not-the-password" not in repr(wrong)


def test_the_password_never_reaches_the_logs_even_at_debug(rucio_server, caplog, tmp_path):
    login = rucio_server.portal
    instance = rucio.RucioInstance("debug", rucio_server.url, login.account, login.username, login.password,
                                   token_dir=str(tmp_path))
    with caplog.at_level(logging.DEBUG):
        rucio.connect(instance).whoami()

    assert "X-Rucio-Password: [hidden]" in caplog.text
    assert login.password not in caplog.text


def test_fault_rule_stuck_after_failed_copies_reports_rucios_reason(rucio_server, lake, source,
                                                                    rucio_dataset):
    name, files = rucio_dataset({"good.txt": b"ok", "fail-copy.txt": b"never arrives"})

    with pytest.raises(StagingError, match="is STUCK") as failed:
        source.stage(refs(lake, name), target=rule_target(rucio_server, deadline=90))
    assert "fail-copy" in failed.value.detail
    assert "attempts" in failed.value.detail
    assert "repairer retries stuck copies by itself" in failed.value.detail  # what a retry can and cannot do


def test_fault_rule_never_completing_stops_at_the_facility_deadline(rucio_server, lake, source,
                                                                    rucio_dataset):
    name, _ = rucio_dataset({"never-copy.txt": b"stays put"})
    progress = Recorder()

    with pytest.raises(StagingError, match="still REPLICATING after 3 s") as failed:
        source.stage(refs(lake, name), target=rule_target(rucio_server, deadline=3), report=progress)
    assert "0 of 1 file(s)" in failed.value.detail
    assert progress and progress[-1][2]["replicating"] == 1


def test_fault_quota_exceeded(rucio_server, rucio_dataset):
    name, _ = rucio_dataset({"big.txt": b"more than one byte"})
    tight = instance_for(rucio_server, rucio_server.tight)
    source = rucio.RucioSource(instances=lambda slug: tight)

    with pytest.raises(StagingError, match="quota is exceeded"):
        source.stage(refs(tight, name), target=rule_target(rucio_server))


def test_an_unknown_instance_is_a_staging_error(rucio_server):
    def nowhere(slug):
        raise LookupError(slug)

    with pytest.raises(SourceUnavailable, match="not configured"):
        rucio.RucioSource(instances=nowhere).stage(
            [DatasetRef("x/portal:y", {"instance": "x", "scope": "portal", "name": "y"})],
            target=rule_target(rucio_server))
