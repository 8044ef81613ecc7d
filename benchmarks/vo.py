"""The VO data source against the real DaCHS test server: the fixture's cold start (per step), then the
adapter's ObsCore search against the bare pyvo call it wraps, async (UWS) against sync, and batched DataLink
resolution against one request per identifier. Interleaved runs; prints medians.

    .venv/bin/python -m benchmarks.vo [--repeat 15]      (ESAP_VO_BASE_URL reuses a running server)
"""
import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from staging.sources.vo import ObsCoreQuery, obscore_search, resolve_this  # noqa: E402
from tests.servers.vo.dachs import LocalDaCHS, missing  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def compare(name: str, baseline: tuple[str, Callable], measured: tuple[str, Callable], repeat: int) -> None:
    samples: dict[str, list[float]] = {baseline[0]: [], measured[0]: []}
    for _ in range(repeat):
        for label, action in (baseline, measured):
            samples[label].append(timed(action))
    base, ours = (statistics.median(samples[label]) * 1000 for label in (baseline[0], measured[0]))
    print(f"{name:<34} {baseline[0]} {base:7.1f} ms | {measured[0]} {ours:7.1f} ms | "
          f"ratio {ours / base:4.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    server = None
    base = os.environ.get("ESAP_VO_BASE_URL", "").rstrip("/")
    if not base:
        if reason := missing():
            raise SystemExit(reason)
        server = LocalDaCHS().start()
        base = server.url
        print("cold start: " + ", ".join(f"{k} {v:.1f} s" for k, v in server.timings.items()))
    try:
        run(base, args.repeat)
    finally:
        if server:
            server.stop()


def run(base: str, repeat: int) -> None:
    import pyvo

    tap_url = f"{base}/tap"
    query = ObsCoreQuery.from_params({"ra": 10, "dec": 20, "radius": 0.2, "keywords": "field"})
    adql = query.adql(limit=51)
    page = obscore_search(tap_url, ObsCoreQuery())
    ids = [row.publisher_did for row in page.rows]
    def bare() -> object:  # a fresh service and session per call, as the adapter makes
        return pyvo.dal.TAPService(tap_url).run_sync(adql)

    compare("ObsCore cone+keywords, 1 page", ("pyvo run_sync", bare),
            ("adapter", lambda: obscore_search(tap_url, query)), repeat)
    compare("same page, async UWS vs sync", ("sync", lambda: obscore_search(tap_url, query)),
            ("async", lambda: obscore_search(tap_url, query, async_threshold=1)), repeat)
    compare(f"DataLink #this for {len(ids)} datasets",
            ("one request per ID", lambda: [resolve_this(page.datalink_url, [i]) for i in ids]),
            ("batched", lambda: resolve_this(page.datalink_url, ids)), repeat)


if __name__ == "__main__":
    main()
