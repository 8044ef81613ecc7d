"""Compute facilities: JupyterHub instances, the server profiles they offer, where their data lives."""
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from esap.crypto import EncryptedTextField
from esap.search import FullTextMatchField, Searchable


class Visibility(models.TextChoices):
    PUBLIC = "public", "Everyone"
    GROUPS = "groups", "Members of the listed groups"
    HIDDEN = "hidden", "Operators only"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not probed yet"
    UP = "up", "Up"
    DOWN = "down", "Down"


class StagingMode(models.TextChoices):
    RULE = "rule", "Replicate to the facility's storage (Rucio rule)"
    DOWNLOAD = "download", "Download into the server"


# Slugs the API's own paths take: /api/facilities/register/ is registration, not a facility's detail.
RESERVED_SLUGS = frozenset({"register"})


class Facility(Searchable):
    search_title_field = "name"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    keywords = models.CharField(max_length=500, blank=True, help_text="Comma-separated.")
    hub_url = models.URLField("JupyterHub base URL", max_length=500)
    api_token = EncryptedTextField(
        "portal's API token for this hub", blank=True, help_text="Stored encrypted; never shown again."
    )
    allow_user_creation = models.BooleanField(
        default=True, help_text="The portal may create a hub user that does not exist yet."
    )
    identity_provider = models.CharField(
        max_length=100, blank=True,
        help_text="The OpenID Connect provider (its id in ESAP_OIDC_PROVIDERS) the hub logs its users in "
                  "with. Empty: hub users are named after portal usernames.")
    hub_username_claim = models.CharField(
        max_length=100, default="preferred_username", blank=True,
        help_text="The claim of that provider the hub takes as username (its OAuthenticator's "
                  "username_claim): preferred_username, sub, email, ...")
    data_rse_expression = models.CharField("Rucio RSE expression", max_length=300, blank=True)
    data_mount_path = models.CharField(
        max_length=500, blank=True, help_text="Where the facility's storage appears inside its servers."
    )
    staging_mode = models.CharField(max_length=20, choices=StagingMode, default=StagingMode.DOWNLOAD)
    spawn_deadline_seconds = models.PositiveIntegerField(default=300, validators=[MinValueValidator(10)])
    staging_deadline_seconds = models.PositiveIntegerField(
        default=6 * 3600, validators=[MinValueValidator(10)],
        help_text="How long a checkout may wait for its data to reach this facility's storage (a Rucio "
                  "replication rule copying) before it fails. No worker is held while it waits.")
    visibility = models.CharField(max_length=20, choices=Visibility, default=Visibility.PUBLIC)
    groups = models.ManyToManyField("auth.Group", blank=True, related_name="+",
                                    help_text="Who may see and launch on it when limited to groups.")
    health = models.CharField(max_length=20, choices=Health, default=Health.UNKNOWN, editable=False)
    health_message = models.CharField(max_length=500, blank=True, editable=False)
    hub_version = models.CharField(max_length=50, blank=True, editable=False)
    probed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name_plural = "facilities"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from esap.identity import configured_providers

        if self.slug in RESERVED_SLUGS:
            raise ValidationError({"slug": f"{self.slug!r} is reserved (the API's "
                                           f"/api/facilities/{self.slug}/ is not a facility): choose another slug."})
        if self.identity_provider and self.identity_provider not in configured_providers():
            raise ValidationError({"identity_provider": f"No identity provider {self.identity_provider!r} is "
                                                        f"configured (ESAP_OIDC_PROVIDERS)."})

    def search_document(self) -> str:
        return " ".join([self.name, self.slug, self.description, self.keywords, self.data_rse_expression])

    @property
    def keyword_list(self) -> list[str]:
        return [word.strip() for word in self.keywords.split(",") if word.strip()]


class ServerProfile(models.Model):
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="profiles")
    slug = models.SlugField(max_length=100, help_text="Sent to the hub as user_options.profile.")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["facility", "position", "slug"]
        constraints = [models.UniqueConstraint(fields=["facility", "slug"], name="unique_profile_slug")]

    def __str__(self) -> str:
        return f"{self.facility.slug}/{self.slug}"


class FacilitySearchEntry(models.Model):
    """The FTS5 row of a facility (SQLite only); see esap.search."""

    facility = models.OneToOneField(
        Facility, primary_key=True, db_column="rowid", on_delete=models.DO_NOTHING, related_name="search_entry"
    )
    document = FullTextMatchField(db_column="facilities_facility_fts")

    class Meta:
        managed = False
        db_table = "facilities_facility_fts"
