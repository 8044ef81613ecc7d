"""The synthetic catalogue that benchmarks and load tests search: realistic rows, found by the index
exactly as a plain scan finds them."""
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from esap.search import search_terms
from esap.seeding import SEARCH_QUERIES
from facilities.models import Facility
from staging.models import Dataset
from staging.selectors import dataset_list
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def scanned_ids(query: str) -> set[int]:
    """Rows holding every word of the query as a whole word, by a regular expression over the text."""
    boundary = (r"\m", r"\M") if connection.vendor == "postgresql" else (r"\b", r"\b")
    condition = Q()
    for term in search_terms(query):
        condition &= Q(search_text__iregex=f"{boundary[0]}{term}{boundary[1]}")
    return set(Dataset.objects.filter(condition).values_list("pk", flat=True))


def test_seed_catalogue_adds_datasets_workflows_and_facilities():
    call_command("seed_catalogue", datasets=300, workflows=20, facilities=3, force=True, stdout=io.StringIO())

    assert Dataset.objects.filter(source="synthetic").count() == 300
    assert (Workflow.objects.count(), Facility.objects.count()) == (20, 3)
    call_command("seed_catalogue", datasets=10, workflows=0, facilities=0, force=True, stdout=io.StringIO())
    assert Dataset.objects.values("identifier").distinct().count() == 310  # appended, never duplicated


@pytest.mark.parametrize("query", SEARCH_QUERIES)
def test_the_index_finds_what_a_whole_word_scan_finds(query):
    call_command("seed_catalogue", datasets=3000, workflows=0, facilities=0, force=True, stdout=io.StringIO())

    found = {dataset.pk for dataset in dataset_list(query=query)}

    assert found == scanned_ids(query)
    assert found or query == "vela pulsar"  # the one query for a word the generator never writes


def test_seeding_twice_adds_to_the_first_run():
    call_command("seed_catalogue", datasets=5, workflows=3, facilities=2, force=True, stdout=io.StringIO())
    call_command("seed_catalogue", datasets=5, workflows=3, facilities=2, force=True, stdout=io.StringIO())

    assert (Dataset.objects.count(), Workflow.objects.count(), Facility.objects.count()) == (10, 6, 4)


def test_seeding_a_production_catalogue_needs_force(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="pass --force"):
        call_command("seed_catalogue", datasets=5, workflows=0, facilities=0, stdout=io.StringIO())
    assert Dataset.objects.count() == 0
    call_command("seed_catalogue", datasets=5, workflows=0, facilities=0, force=True, stdout=io.StringIO())
    assert Dataset.objects.count() == 5
