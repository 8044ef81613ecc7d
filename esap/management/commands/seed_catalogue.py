from django.core.management.base import BaseCommand

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

    def handle(self, *args, datasets: int, workflows: int, facilities: int, **options) -> None:
        start = Dataset.objects.filter(source="synthetic").count()
        seed_datasets(datasets, start=start)
        seed_workflows(workflows)
        seed_facilities(facilities)
        settle_after_bulk_load(Dataset, Workflow, Facility)
        self.stdout.write(f"Added {datasets} datasets, {workflows} workflows, {facilities} facilities.")
