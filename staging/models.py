"""Datasets, the user's persistent cart, and checkouts with their event log."""
import uuid

from django.conf import settings
from django.db import models

from esap.crypto import EncryptedTextField
from esap.search import FullTextMatchField, Searchable
from staging.checkout.states import State


class Dataset(Searchable):
    source = models.CharField(max_length=50, help_text="Kind of data source, see staging.sources.")
    identifier = models.CharField(max_length=1000, help_text="Stable identifier within the source.")
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "identifier"], name="unique_dataset_identifier")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.source}:{self.identifier})"

    def search_document(self) -> str:
        keywords = self.metadata.get("keywords", []) if isinstance(self.metadata, dict) else []
        words = " ".join(str(word) for word in keywords) if isinstance(keywords, list) else ""
        return " ".join([self.title, self.identifier, self.source, self.description, words])


class DatasetSearchEntry(models.Model):
    """The FTS5 row of a dataset (SQLite only); see esap.search."""

    dataset = models.OneToOneField(
        Dataset, primary_key=True, db_column="rowid", on_delete=models.DO_NOTHING, related_name="search_entry"
    )
    document = FullTextMatchField(db_column="staging_dataset_fts")

    class Meta:
        managed = False
        db_table = "staging_dataset_fts"


class Cart(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart")
    workflow = models.ForeignKey("workflows.Workflow", null=True, blank=True, on_delete=models.SET_NULL)
    workflow_version = models.ForeignKey(
        "workflows.WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="A pinned earlier version; empty means the workflow's latest.")
    facility = models.ForeignKey("facilities.Facility", null=True, blank=True, on_delete=models.SET_NULL)
    profile = models.ForeignKey("facilities.ServerProfile", null=True, blank=True, on_delete=models.SET_NULL)
    frozen_by = models.ForeignKey(
        "Checkout", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The checkout in progress; the cart cannot change until it ends.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cart of {self.user}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    # How this user found the dataset (a VO query): theirs, not the shared catalogue row's.
    provenance = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["cart", "dataset"], name="unique_cart_dataset")]


class Checkout(models.Model):
    """One launch. Its state changes only through staging.checkout.machine.transition()."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkouts")
    state = models.CharField(max_length=20, choices=[(s.value, s.value) for s in State], default=State.CREATED)
    failed_step = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    task_id = models.CharField(max_length=100, blank=True)
    leased_by = models.CharField(max_length=200, blank=True, help_text="The worker running it now.")
    lease_until = models.DateTimeField(null=True, blank=True)
    state_since = models.DateTimeField(null=True, blank=True, help_text="When it entered its current state.")
    # What was launched, copied at checkout so later catalogue edits do not rewrite history.
    facility = models.ForeignKey("facilities.Facility", null=True, on_delete=models.SET_NULL, related_name="+")
    facility_slug = models.CharField(max_length=100)
    profile_slug = models.CharField(max_length=100)
    workflow = models.ForeignKey("workflows.Workflow", null=True, on_delete=models.SET_NULL, related_name="+")
    workflow_version = models.ForeignKey("workflows.WorkflowVersion", null=True, on_delete=models.SET_NULL,
                                         related_name="+")
    workflow_title = models.CharField(max_length=300)
    workflow_commit = models.CharField(max_length=64, blank=True)
    notebook_path = models.CharField(max_length=500)
    datasets = models.JSONField(default=list, help_text="[{source, identifier, title}] as checked out.")
    # Filled in by the steps.
    staged = models.JSONField(default=list, blank=True, help_text="[{identifier, location}] after staging.")
    hub_username = models.CharField(max_length=200, blank=True)
    server_name = models.CharField(max_length=100, blank=True)
    remote_path = models.CharField(max_length=500, blank=True)
    kernel_id = models.CharField(max_length=100, blank=True)
    session_id = models.CharField(max_length=100, blank=True)
    execution_started_at = models.DateTimeField(null=True, blank=True)
    lab_url = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When the user last set it going: checkout or retry.")
    announced_end = models.DateTimeField(null=True, blank=True, editable=False,
                                         help_text="The end (finished_at) the user was e-mailed about.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Launches in given states (the sweeper's live ones, /metrics' counts) and those that ended since a
        # moment (/metrics' last hour, the event pruning): a range of this index, not a scan of every
        # launch ever made, as rows are kept for good.
        indexes = [models.Index(fields=["state", "finished_at"], name="checkout_state_finished")]

    def __str__(self) -> str:
        return f"checkout {self.pk} ({self.state})"


class CheckoutEvent(models.Model):
    checkout = models.ForeignKey(Checkout, on_delete=models.CASCADE, related_name="events")
    phase = models.CharField(max_length=20)
    message = models.TextField()
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]


class DataLake(models.Model):
    """A Rucio instance the portal searches and stages from, with the portal's own account there."""

    class AuthType(models.TextChoices):
        USERPASS = "userpass", "Username and password"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True, help_text="Recorded in each dataset's metadata as `instance`.")
    server_url = models.URLField(help_text="The Rucio REST server, e.g. https://rucio.example.org")
    auth_url = models.URLField(blank=True, help_text="The Rucio auth server; empty: the server URL.")
    account = models.CharField(max_length=100, help_text="The portal's Rucio account; rules are owned by it.")
    vo = models.CharField("VO", max_length=100, default="def")
    auth_type = models.CharField(max_length=20, choices=AuthType, default=AuthType.USERPASS)
    username = models.CharField(max_length=200, blank=True)
    password = EncryptedTextField(blank=True, default="")
    timeout_seconds = models.PositiveIntegerField(default=30, help_text="Per HTTP request to Rucio.")
    request_retries = models.PositiveIntegerField(default=3)
    rule_lifetime_seconds = models.PositiveIntegerField(default=7 * 24 * 3600,
                                                        help_text="Lifetime of the rules the portal adds.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VOService(models.Model):
    """A Virtual Observatory service the portal searches: a TAP service with an ObsCore table, an SIA2
    service, or a RegTAP registry. Operators add them in the admin; the demo lists public ones."""

    class Kind(models.TextChoices):
        TAP = "tap", "TAP (ObsCore)"
        SIA2 = "sia2", "SIA2 image search"
        REGISTRY = "registry", "RegTAP registry"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.TAP)
    url = models.URLField(max_length=1000, help_text="The service's base URL (TAP: the one ending in /tap).")
    description = models.TextField(blank=True)
    needs_internet = models.BooleanField(default=False, help_text="A public service: usable only where the "
                                                                  "portal can reach the internet.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = "VO service"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
