"""Synthetic but realistic catalogue entries, in bulk, for benchmarks and load tests."""
import random
from collections.abc import Iterator

from django.db import transaction

from esap.search import index_text
from facilities.models import Facility, ServerProfile
from staging.models import Dataset
from workflows.models import Workflow

INSTRUMENTS = ["LOFAR", "MeerKAT", "CTA", "HESS", "MAGIC", "Gaia", "Euclid", "LSST", "ATLAS", "CMS", "LHCb",
               "ALICE", "KM3NeT", "IceCube", "Virgo", "LIGO", "SKA", "JWST", "Chandra", "XMM"]
TARGETS = ["Crab", "Vela", "Geminga", "Cygnus", "Andromeda", "Orion", "Perseus", "Coma", "Virgo", "Sgr A*",
           "M87", "Cassiopeia", "Centaurus", "Draco", "Fornax", "Hydra", "Lyra", "Pegasus", "Sculptor", "Ursa"]
PRODUCTS = ["light curve", "spectrum", "image", "event list", "catalogue", "cube", "visibilities",
            "time series", "calibration", "skymap", "ntuple", "histograms", "spectral cube", "mosaic"]
QUALIFIERS = ["calibrated", "raw", "reduced", "preliminary", "final", "stacked", "deep", "wide-field",
              "high-cadence", "polarimetric", "multi-epoch", "simulated", "cleaned", "flagged"]
SEARCH_QUERIES = ["crab light curve", "lofar", "gaia catalogue", "calibrated spectrum", "cygnus",
                  "euclid deep image", "icecube event list", "m87", "simulated ntuple", "vela pulsar"]


def synthetic_datasets(count: int, *, start: int = 0, seed: int = 7) -> Iterator[Dataset]:
    rng = random.Random(seed + start)
    for number in range(start, start + count):
        instrument, target = rng.choice(INSTRUMENTS), rng.choice(TARGETS)
        product, qualifier = rng.choice(PRODUCTS), rng.choice(QUALIFIERS)
        year = rng.randint(2005, 2026)
        dataset = Dataset(
            source="synthetic", identifier=f"{instrument.lower()}/{year}/obs-{number:08d}",
            title=f"{instrument} {target} {qualifier} {product} {year}",
            description=f"{qualifier.capitalize()} {product} of {target} observed by {instrument} in {year}.",
            size_bytes=rng.randint(10_000, 50_000_000_000),
            metadata={"keywords": [instrument.lower(), target.lower(), product], "year": year},
        )
        dataset.search_text = index_text(dataset.search_document())
        yield dataset


def seed_datasets(count: int, *, start: int = 0, batch: int = 5000) -> int:
    created = 0
    generator = synthetic_datasets(count, start=start)
    while created < count:
        rows = [row for _, row in zip(range(min(batch, count - created)), generator)]
        with transaction.atomic():
            Dataset.objects.bulk_create(rows)
        created += len(rows)
    return created


def seed_workflows(count: int, *, start: int = 0, seed: int = 11) -> int:
    """`count` synthetic workflows numbered from `start`, so that a second run adds to the first."""
    rng = random.Random(seed + start)
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    rows = []
    for number in range(start, start + count):
        title = f"{rng.choice(PRODUCTS).capitalize()} analysis of {rng.choice(TARGETS)} with {rng.choice(INSTRUMENTS)}"
        workflow = Workflow(title=title, slug=f"synthetic-{number}", notebook_path=f"nb/{number}.ipynb",
                            description=f"{rng.choice(QUALIFIERS).capitalize()} pipeline.", notebook=notebook,
                            keywords=", ".join(rng.sample(INSTRUMENTS, 2)))
        workflow.search_text = index_text(workflow.search_document())
        rows.append(workflow)
    Workflow.objects.bulk_create(rows, batch_size=2000)
    return count


def seed_facilities(count: int, *, start: int = 0) -> int:
    for number in range(start, start + count):
        facility = Facility.objects.create(
            name=f"{INSTRUMENTS[number % len(INSTRUMENTS)]} analysis facility {number}",
            slug=f"synthetic-facility-{number}", hub_url=f"https://hub{number}.example.org",
            keywords=", ".join(INSTRUMENTS[number % 5: number % 5 + 3]))
        ServerProfile.objects.create(facility=facility, slug="small", display_name="Small")
    return count
