from django.apps import AppConfig


class StagingConfig(AppConfig):
    name = "staging"
    verbose_name = "Datasets, carts and checkouts"

    def ready(self) -> None:
        from django.conf import settings

        from esap.http import check_outbound_url
        from staging.datalakes import register_source
        from staging.sources import local, vo_staging  # noqa: F401  (registers the built-in and VO sources)

        register_source()
        vo_staging.vo_source.url_policy = lambda url: check_outbound_url(
            url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)
