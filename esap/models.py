"""The user's account beyond Django's: personal API tokens (for scripts calling the REST API as their user,
besides the browser session), groups asserted by identity providers, and preferences."""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "esap_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """Stored as a SHA-256 digest: the token itself is shown once, at creation, and never again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The token's first characters.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Group memberships asserted by an identity provider are read at login only: a token's lifetime
    # bounds how long a script keeps what its owner has lost since.
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, *, user, name: str, days: int | None = None) -> tuple["ApiToken", str]:
        """A new token of `user`, valid for `days` (at most, and by default, ESAP_API_TOKEN_DAYS)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        lifetime = timedelta(days=min(days or settings.ESAP_API_TOKEN_DAYS, settings.ESAP_API_TOKEN_DAYS))
        return cls.objects.create(user=user, name=name, digest=token_digest(token), hint=token[:9],
                                  expires_at=timezone.now() + lifetime), token

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class ExternalGroupMembership(models.Model):
    """A group membership asserted by an identity provider, so the next login can withdraw it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "group", "provider"],
                                               name="unique_external_group_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} (from {self.provider})"


class AccountSettings(models.Model):
    """A user's preferences; a user without a row has the defaults."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="esap_settings")
    email_when_launch_ends = models.BooleanField(
        default=True, help_text="E-mail me when a launch I stopped watching is ready or has failed.")

    def __str__(self) -> str:
        return f"settings of {self.user}"

    @classmethod
    def of(cls, user) -> "AccountSettings":
        return cls.objects.filter(user=user).first() or cls(user=user)


class LocalHubName(models.Model):
    """The hub user a portal user launches as on facilities without an identity provider: given at first
    use (esap.identity.local_hub_username) and kept. Unique here, so no two portal users ever share a hub
    user, whatever their usernames; a deleted user's name stays taken, since their files stay on the hubs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                related_name="local_hub_name")
    name = models.CharField(max_length=120, unique=True)
    given_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} (hub user of {self.user or 'a deleted user'})"
