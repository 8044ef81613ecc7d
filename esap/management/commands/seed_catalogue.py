from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from esap.search import settle_after_bulk_load
from esap.seeding import seed_datasets, seed_facilities, seed_workflows
from facilities.models import Facility
from staging.models import Dataset
from workflows.models import Workflow


class Command(BaseCommand):
    help = "Add synthetic but realistic catalogue entries (for benchmarks and load tests)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--datasets", type=int, default=1_000_000)
        parser.add_argument("--workflows", type=int, default=10_000)
        parser.add_argument("--facilities", type=int, default=100)
        parser.add_argument("--force", action="store_true",
                            help="Seed although ESAP_DEBUG is off (a production catalogue would show these).")

    def handle(self, *args, datasets: int, workflows: int, facilities: int, force: bool, **options) -> None:
        if not (settings.DEBUG or force):
            raise CommandError("This adds synthetic datasets, workflows and facilities (hubs at example.org) to "
                               "the public catalogue. Run it on a benchmark or test database, or pass --force.")
        seed_datasets(datasets, start=Dataset.objects.filter(source="synthetic").count())
        seed_workflows(workflows, start=Workflow.objects.filter(slug__startswith="synthetic-").count())
        seed_facilities(facilities, start=Facility.objects.filter(slug__startswith="synthetic-facility-").count())
        settle_after_bulk_load(Dataset, Workflow, Facility)
        self.stdout.write(f"Added {datasets} datasets, {workflows} workflows, {facilities} facilities.")
