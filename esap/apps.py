from django.apps import AppConfig


class EsapConfig(AppConfig):
    name = "esap"
    verbose_name = "esap"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in

        from esap import checks  # noqa: F401  (registers the system checks)

        user_logged_in.connect(_refresh_identity, dispatch_uid="esap.identity.refresh")


def _refresh_identity(sender, *, user, sociallogin=None, **kwargs) -> None:
    from esap.identity import on_local_login, on_social_login

    if sociallogin is not None:
        on_social_login(user=user, sociallogin=sociallogin)
    else:
        on_local_login(user=user)
