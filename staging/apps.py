from django.apps import AppConfig


class StagingConfig(AppConfig):
    name = "staging"
    verbose_name = "Datasets, carts and checkouts"

    def ready(self) -> None:
        from staging.sources import local, vo  # noqa: F401  (registers the built-in and VO sources)
