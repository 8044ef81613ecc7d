from django.core.management.base import BaseCommand, CommandError

from esap.errors import EsapError
from staging.datalakes import datalake_search


class Command(BaseCommand):
    help = "Search a data lake (Rucio instance) and add the datasets found to the catalogue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("lake", help="The data lake's slug.")
        parser.add_argument("--scope", required=True)
        parser.add_argument("--name", default="*", help="Name pattern with * wildcards.")
        parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                            help="Metadata filter; repeatable.")
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args, lake: str, scope: str, name: str, meta: list[str], limit: int, **options) -> None:
        if any("=" not in m for m in meta):
            raise CommandError("--meta takes KEY=VALUE")
        try:
            datasets = datalake_search(slug=lake, scope=scope, name=name, limit=limit,
                                       metadata=dict(m.split("=", 1) for m in meta))
        except EsapError as error:
            raise CommandError(error.message) from error
        for dataset in datasets:
            self.stdout.write(f"{dataset.identifier}\t{dataset.size_bytes} bytes")
        self.stdout.write(f"{len(datasets)} dataset(s) in the catalogue from {lake}.")
