"""System checks of the deployment's settings (shown by every management command, and by `check`)."""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from esap.account import mail_is_sent
from esap.env import DEVELOPMENT_SECRET_KEY

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
PLAINTEXT_GIT_SCHEMES = ("http", "git")


@register()
def secret_key_is_set(app_configs, **kwargs) -> list[Error]:
    """The development key is in the source: with it anyone can sign sessions (log in as any user) and,
    without ESAP_FIELD_ENCRYPTION_KEYS, decrypt the hub tokens and Rucio passwords kept in the database."""
    if settings.DEBUG or settings.SECRET_KEY != DEVELOPMENT_SECRET_KEY:
        return []
    return [Error("ESAP_SECRET_KEY is not set: the portal signs sessions with the development key, which "
                  "anyone can read in its source.",
                  hint="Set ESAP_SECRET_KEY to a long random value, e.g. python -c 'import secrets; "
                       "print(secrets.token_urlsafe(50))'.",
                  id="esap.E001")]


@register()
def field_encryption_keys_are_set(app_configs, **kwargs) -> list[Warning]:
    """Without keys of their own, stored secrets are encrypted with a key derived from SECRET_KEY: one
    leaked value then gives both, and the secret key cannot be changed without losing them."""
    if settings.DEBUG or settings.FIELD_ENCRYPTION_KEYS:
        return []
    return [Warning("ESAP_FIELD_ENCRYPTION_KEYS is empty: hub tokens and Rucio passwords in the database are "
                    "encrypted with a key derived from ESAP_SECRET_KEY.",
                    hint="Set it to a Fernet key of its own (python -c 'from cryptography.fernet import "
                         "Fernet; print(Fernet.generate_key().decode())'), then run manage.py rotate_secrets: "
                         "secrets stored before are still read with the derived key and move to the new one.",
                    id="esap.W004")]


@register()
def public_url_is_set(app_configs, **kwargs) -> list[Warning]:
    """A deployment that sends e-mail must say where users reach it: the mails link there."""
    if settings.DEBUG or not mail_is_sent() or urlsplit(settings.ESAP_PUBLIC_URL).hostname not in LOOPBACK_HOSTS:
        return []
    return [Warning(f"ESAP_PUBLIC_URL is {settings.ESAP_PUBLIC_URL}: the links in users' e-mails point at this "
                    "machine.", hint="Set ESAP_PUBLIC_URL to the address users reach the portal at.",
                    id="esap.W001")]


@register()
def signup_is_closed_in_production(app_configs, **kwargs) -> list[Warning]:
    """Open sign-up lets anyone pick a username, and on facilities without an identity provider a
    portal username is the hub username."""
    if settings.DEBUG or not settings.ESAP_OPEN_SIGNUP:
        return []
    return [Warning("ESAP_OPEN_SIGNUP is on: anyone can make an account under any free username and launch "
                    "as the hub user of that name on facilities without an identity provider.",
                    hint="Turn it off and let accounts come from an identity provider or from operators.",
                    id="esap.W002")]


@register()
def git_transports_are_authenticated(app_configs, **kwargs) -> list[Warning]:
    """Over http:// or git:// anyone on the path can change a harvested notebook, whose first cells then run
    in the server of every user who launches it."""
    plaintext = [scheme for scheme in PLAINTEXT_GIT_SCHEMES if scheme in settings.ESAP_GIT_SCHEMES]
    if settings.DEBUG or not plaintext:
        return []
    return [Warning(f"ESAP_GIT_SCHEMES allows {', '.join(f'{scheme}://' for scheme in plaintext)}: workflows "
                    "harvested over it can be changed on the way by anyone on the network path.",
                    hint="Keep only https in ESAP_GIT_SCHEMES (the default with ESAP_DEBUG off).",
                    id="esap.W005")]


@register()
def git_is_installed(app_configs, **kwargs) -> list[Warning]:
    """The worker harvests workflows from Git repositories with git itself."""
    import shutil

    if shutil.which("git"):
        return []
    return [Warning("git is not on the PATH: workflow repositories cannot be harvested here.",
                    hint="Install git where the Celery worker runs (the docker image has it).",
                    id="esap.W003")]


@register()
def git_can_pin_addresses(app_configs, **kwargs) -> list[Warning]:
    """Harvests over HTTP(S) keep git on the addresses the outbound check vetted (http.curloptResolve):
    git older than 2.37 ignores that setting without a word, so every such harvest is refused there."""
    from workflows.harvest.git import PINNING_GIT, dotted, git_can_pin, git_version

    if settings.ESAP_GIT_ALLOW_PRIVATE_URLS or git_version() is None or git_can_pin():
        return []
    return [Warning(f"git {dotted(git_version())} cannot keep a harvest on the address its URL check vetted: "
                    "harvests over HTTP(S) will be refused.",
                    hint=f"Install git {dotted(PINNING_GIT)} or later where the Celery worker runs "
                         "(the docker image has it).",
                    id="esap.W006")]
