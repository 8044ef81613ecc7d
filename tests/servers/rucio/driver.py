"""Rucio's own transfer daemons, one cycle per second, in one process of the Rucio server's venv:
judge-evaluator, conveyor submitter, poller and finisher, exactly as Rucio ships them.

FTS cannot run here, so the transfer step is Rucio's mock transfertool, extended in this process only
into `CopyingMockTransfertool`: it really copies each file between the posix RSEs (`file://` URLs) through
a `.part` file, checks size and adler32 against the request, and reports the transfer FAILED when the
copy fails or when the file's name carries FAIL_MARKER; a transfer whose file name carries HANG_MARKER
never finishes (no status, like a silent FTS). Both are faults the tests provoke on purpose. Everything
else - rules, locks, requests, retries, the judge - is stock Rucio.

    RUCIO_CONFIG=<server config> <server venv>/bin/python driver.py
"""
import logging
import os
import shutil
import signal
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import urlparse

from rucio.daemons.conveyor.finisher import finisher
from rucio.daemons.conveyor.poller import poller
from rucio.daemons.conveyor.submitter import submitter
from rucio.daemons.judge.evaluator import re_evaluator
from rucio.db.sqla.constants import RequestState
from rucio.transfertool import mock

FAIL_MARKER = "fail-copy"
HANG_MARKER = "never-copy"
FAILED_PREFIX, HANGING_PREFIX = "failed-", "hanging-"
_running = True


class FailedMockTransferStatusReport(mock.MockTransferStatusReport):
    def __init__(self, request_id: str, external_id: str) -> None:
        super().__init__(request_id, external_id)
        self.state = RequestState.FAILED
        self.reason = "copy failed (CopyingMockTransfertool)"


def _adler32(path: Path) -> str:
    value = 1
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            value = zlib.adler32(block, value)
    return f"{value & 0xffffffff:08x}"


def _copy(transfer) -> None:
    rws = transfer.rws
    if FAIL_MARKER in rws.name:
        raise OSError(f"{rws.name}: failure injected by name")
    source = Path(urlparse(transfer.source_url(transfer.src)).path)
    dest = Path(urlparse(transfer.dest_url).path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    shutil.copyfile(source, part)
    if rws.byte_count is not None and part.stat().st_size != rws.byte_count:
        raise OSError(f"{rws.name}: size {part.stat().st_size} != {rws.byte_count}")
    if rws.adler32 and _adler32(part) != rws.adler32.lower().zfill(8):
        raise OSError(f"{rws.name}: adler32 mismatch")
    part.rename(dest)


def _submit(self, transfers, job_params, timeout=None) -> str:
    if any(HANG_MARKER in transfer.rws.name for transfer in transfers):
        return f"{HANGING_PREFIX}{uuid.uuid1()}"
    try:
        for transfer in transfers:
            _copy(transfer)
    except OSError as error:
        logging.warning("CopyingMockTransfertool: %s", error)
        return f"{FAILED_PREFIX}{uuid.uuid1()}"
    return str(uuid.uuid1())


def _bulk_query(self, requests_by_eid, timeout=None):
    response = {}
    for eid, requests in requests_by_eid.items():
        if eid.startswith(HANGING_PREFIX):
            continue  # no news: the request stays SUBMITTED
        failed = eid.startswith(FAILED_PREFIX)
        report = FailedMockTransferStatusReport if failed else mock.MockTransferStatusReport
        response[eid] = {request_id: report(request_id, eid) for request_id in requests}
    return response


def _one_transfer_per_job(self, transfer_paths):
    return [{"transfers": [transfer], "job_params": {}}
            for path in transfer_paths for transfer in path]


def install_copying_transfertool() -> None:
    """Turn the stock MockTransfertool into CopyingMockTransfertool (this process only)."""
    mock.MockTransfertool.submit = _submit
    mock.MockTransfertool.bulk_query = _bulk_query
    mock.MockTransfertool.group_into_submit_jobs = _one_transfer_per_job


def cycle() -> None:
    re_evaluator(once=True, did_limit=1000)
    submitter(once=True, partition_wait_time=0, transfertools=["mock"], transfertype="single",
              filter_transfertool=None)
    poller(once=True, older_than=0, partition_wait_time=0, transfertool="mock")
    finisher(once=True, partition_wait_time=0)


def _stop(signum, frame) -> None:
    global _running
    _running = False


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    install_copying_transfertool()
    interval = float(os.environ.get("ESAP_RUCIO_DRIVER_INTERVAL", "1"))
    print("driver ready", flush=True)
    while _running:
        try:
            cycle()
        except Exception:  # a daemon's bad cycle must not end the driver; the log shows it
            logging.exception("driver cycle failed")
        time.sleep(interval)


if __name__ == "__main__":
    main()
