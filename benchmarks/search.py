"""Catalogue search at scale: the full-text index (the portal's selector) against a plain `icontains`
scan of the same rows, each answering the first page of results and its count, as the API does.

    .venv/bin/python -m benchmarks.search [--sizes 10000 100000 1000000] [--repeat 5]

Runs on the database the environment names (the embedded SQLite by default; ESAP_DATABASE_URL for
PostgreSQL). Prints p50/p95 per size and the ratio scan / index.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ESAP_DATA_DIR", tempfile.mkdtemp(prefix="esap-bench-search-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "esap.settings")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402

from esap.search import CappedCountPaginator, search_terms, settle_after_bulk_load  # noqa: E402
from esap.seeding import SEARCH_QUERIES, seed_datasets  # noqa: E402
from staging.models import Dataset  # noqa: E402
from staging.selectors import dataset_list  # noqa: E402

PAGE = 20


def indexed(query: str) -> tuple[int, int]:
    """What the API answers: the first page, ranked, and the count (exact up to the cap)."""
    paginator = CappedCountPaginator(dataset_list(query=query), PAGE)
    return len(list(paginator.page(1))), paginator.count


def indexed_in_one_source(query: str) -> tuple[int, int]:
    """The same with a filter (`?source=`), which the index cannot answer alone."""
    paginator = CappedCountPaginator(dataset_list(query=query, source="synthetic"), PAGE)
    return len(list(paginator.page(1))), paginator.count


def scan(query: str):
    condition = Q()
    for term in search_terms(query):
        condition &= Q(title__icontains=term) | Q(description__icontains=term) | Q(identifier__icontains=term)
    return Dataset.objects.filter(condition).order_by("-pk")


def scanned(query: str) -> tuple[int, int]:
    """A portal without an index: the first page of an icontains scan and its count."""
    results = scan(query)
    return len(list(results[:PAGE])), results.count()


def scanned_capped(query: str) -> tuple[int, int]:
    """The same scan, counted only up to the same cap (a second, stricter baseline)."""
    paginator = CappedCountPaginator(scan(query), PAGE)
    return len(list(paginator.page(1))), paginator.count


def timings(search, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        for query in SEARCH_QUERIES:
            started = time.perf_counter()
            search(query)
            samples.append(time.perf_counter() - started)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; {len(SEARCH_QUERIES)} queries x {args.repeat}, first page + count "
          f"(the index counts up to ESAP_SEARCH_COUNT_CAP={settings.ESAP_SEARCH_COUNT_CAP}, as the API does)")
    print(f"{'datasets':>10} {'index p50':>10} {'index p95':>10} {'scan p50':>10} {'scan p95':>10} "
          f"{'scan/index p50':>15} {'capped scan p50':>16} {'capped/index':>13} {'filtered p50':>13}")
    first_p95 = None
    for size in sorted(args.sizes):
        have = Dataset.objects.count()
        if size > have:
            started = time.perf_counter()
            seed_datasets(size - have, start=have)
            settle_after_bulk_load(Dataset)  # as after any bulk import
            print(f"  (seeded {size - have} rows in {time.perf_counter() - started:.0f} s)", flush=True)
        for search in (indexed, scanned, scanned_capped, indexed_in_one_source):
            timings(search, 1)  # warm caches on every side alike
        fts, plain = timings(indexed, args.repeat), timings(scanned, args.repeat)
        capped, filtered = timings(scanned_capped, args.repeat), timings(indexed_in_one_source, args.repeat)
        first_p95 = first_p95 or percentile(fts, 0.95)
        fts_p50 = statistics.median(fts)
        print(f"{size:>10} {fts_p50 * 1000:>8.1f}ms {percentile(fts, 0.95) * 1000:>8.1f}ms "
              f"{statistics.median(plain) * 1000:>8.1f}ms {percentile(plain, 0.95) * 1000:>8.1f}ms "
              f"{statistics.median(plain) / fts_p50:>14.1f}x {statistics.median(capped) * 1000:>14.1f}ms "
              f"{statistics.median(capped) / fts_p50:>12.1f}x {statistics.median(filtered) * 1000:>11.1f}ms", flush=True)
    print(f"index p95 at the largest size / at the smallest: {percentile(fts, 0.95) / first_p95:.2f}")


if __name__ == "__main__":
    main()
