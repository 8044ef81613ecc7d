from django.apps import AppConfig


class StagingConfig(AppConfig):
    name = "staging"
    verbose_name = "Datasets, carts and checkouts"

    def ready(self) -> None:
        from staging.datalakes import register_source
        from staging.sources import local, vo_staging  # noqa: F401  (registers the built-in and VO sources)
        from staging.vo_services import vo_url_policy

        register_source()
        vo_staging.vo_source.url_policy = vo_url_policy
