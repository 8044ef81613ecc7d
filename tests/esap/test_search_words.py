"""One definition of a word for both engines: file paths, host names, dotted and underscored names are
split into their words, and accents are dropped, on SQLite (FTS5) as on PostgreSQL (tsvector)."""
import importlib

import pytest
from django.apps import apps
from django.db import connection

from esap.search import index_text, search_terms
from staging.models import Dataset
from staging.selectors import dataset_list
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def identifiers(queryset) -> list[str]:
    return sorted(dataset.identifier for dataset in queryset)


@pytest.mark.parametrize(("identifier", "title", "query"), [
    ("lightcurves/crab_pulsar.csv", "", "pulsar csv"),
    ("lightcurves/crab_pulsar.csv", "", "crab_pulsar"),
    ("data18_13TeV:data18_13TeV.00348885.physics_Main", "", "physics"),
    ("data18_13TeV:data18_13TeV.00348885.physics_Main", "", "00348885 main"),
    ("user.alice:run1", "", "alice"),
    ("obs-1", "Observations from Malmö", "malmo"),
    ("obs-2", "Café survey", "CAFE"),
    ("obs-3", "Cafe survey", "café"),
    ("obs-4", "https://data.example.org/archive/run-7", "example archive"),
])
def test_words_inside_names_and_without_accents_are_found(identifier, title, query):
    make_dataset(identifier, title=title or identifier)
    make_dataset("unrelated/vela.fits", title="Vela timing")

    assert identifiers(dataset_list(query=query)) == [identifier]


def test_the_indexed_text_is_the_documents_words_folded():
    dataset = make_dataset("user.alice:Malmö_run1.csv", title="Crab Pulsar")

    assert dataset.search_text == "crab pulsar user alice malmo run1 csv local"
    assert index_text("Ärger  im Café/ß") == "arger im cafe ss"
    assert search_terms("Malmö, crab_pulsar.CSV") == ["malmo", "crab", "pulsar", "csv"]


def test_the_title_still_counts_more_after_splitting():
    make_dataset("a", title="Notes", description="crab")
    make_dataset("b", title="Crab_nebula.image", description="taken on a long night of observations")

    assert [dataset.identifier for dataset in dataset_list(query="crab")] == ["b", "a"]


def test_the_migration_recomputes_the_indexed_text_of_existing_rows():
    migration = importlib.import_module("esap.migrations.0006_search_words")
    for number in range(5):
        make_dataset(f"user.alice:run{number}", title=f"Malmö run {number}")
    # the text as it was written before: the raw document
    Dataset.objects.update(search_text="Malmö user.alice:run lightcurves/crab_pulsar.csv")
    if connection.vendor == "postgresql":
        assert identifiers(dataset_list(query="alice")) == []  # the old text's `user.alice` is one token

    migration.recompute_search_text(apps, None, batch=2)

    assert set(Dataset.objects.values_list("search_text", flat=True)) == {
        "malmo user alice run lightcurves crab pulsar csv"}
    assert len(dataset_list(query="alice pulsar malmo")) == 5
    migration.recompute_search_text(apps, None, batch=2)  # idempotent
    assert len(dataset_list(query="alice pulsar malmo")) == 5
