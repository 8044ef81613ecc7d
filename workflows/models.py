"""Notebook workflows: a notebook in a Git repository, pinned to the commit it was read at."""
from django.db import models

from esap.search import FullTextMatchField, Searchable


class Repository(models.Model):
    """A Git repository whose notebooks become workflows; harvested on registration, then periodically."""

    class Status(models.TextChoices):
        NEW = "new", "Not harvested yet"
        OK = "ok", "Harvested"
        FAILED = "failed", "Last harvest failed"

    url = models.CharField(max_length=500)
    ref = models.CharField(max_length=200, default="main")
    is_public = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.NEW, editable=False)
    commit_sha = models.CharField(max_length=64, blank=True, editable=False)
    harvested_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    problems = models.JSONField(default=list, blank=True, editable=False,
                                help_text="Per-file problems of the last harvest: [{path, problem}].")
    environment = models.JSONField(default=list, blank=True, editable=False,
                                   help_text="Environment files found (requirements.txt, binder/...).")
    # Harvests of one repository fetch side by side and may finish in any order: each takes the next number
    # before it fetches, and one older than the last recorded is dropped rather than undo a newer one.
    harvests_started = models.PositiveIntegerField(default=0, editable=False)
    harvest_recorded = models.PositiveIntegerField(default=0, editable=False,
                                                   help_text="Number of the last harvest recorded.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "repositories"
        constraints = [models.UniqueConstraint(fields=["url", "ref"], name="unique_repository_ref")]

    def __str__(self) -> str:
        return f"{self.url}@{self.ref}"


class Workflow(Searchable):
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    keywords = models.CharField(max_length=500, blank=True, help_text="Comma-separated.")
    repository = models.ForeignKey(Repository, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="workflows")
    repository_url = models.CharField(max_length=500, blank=True)
    ref = models.CharField(max_length=200, blank=True, default="main")
    commit_sha = models.CharField(max_length=64, blank=True)
    notebook_path = models.CharField(max_length=500)
    kernel_name = models.CharField(max_length=100, default="python3")
    parameters = models.JSONField(
        default=list, blank=True, help_text="Declared parameters: [{name, default, type_name, comment}]."
    )
    notebook = models.JSONField(help_text="The notebook (nbformat 4) as read at commit_sha.")
    first_cells = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Code cells to run at launch; empty = up to the injected cell."
    )
    environment = models.JSONField(default=list, blank=True, help_text="What the notebook needs to run.")
    is_public = models.BooleanField(default=True)
    groups = models.ManyToManyField("auth.Group", blank=True, related_name="+",
                                    help_text="Who may see and launch it when it is not public.")
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a harvest no longer found its notebook: hidden, not launchable, versions kept.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "pk"]
        constraints = [models.UniqueConstraint(fields=["repository", "notebook_path"],
                                               name="unique_workflow_per_notebook")]

    def __str__(self) -> str:
        return self.title

    def search_document(self) -> str:
        names = " ".join(str(p.get("name", "")) for p in self.parameters or [])
        return " ".join([self.title, self.description, self.keywords, self.notebook_path, names])

    @property
    def keyword_list(self) -> list[str]:
        return [word.strip() for word in self.keywords.split(",") if word.strip()]

    @property
    def parameter_names(self) -> set[str]:
        return {str(p["name"]) for p in self.parameters or [] if "name" in p}


class WorkflowVersion(models.Model):
    """The notebook as read at one commit; a changed notebook makes a new version, old ones stay launchable."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    commit_sha = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    kernel_name = models.CharField(max_length=100)
    parameters = models.JSONField(default=list, blank=True)
    notebook = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Not unique per content: a notebook reverted to older content is a new version at that commit.
        constraints = [models.UniqueConstraint(fields=["workflow", "commit_sha", "content_hash"],
                                               name="unique_version_per_commit")]

    def __str__(self) -> str:
        return f"{self.workflow} @ {self.commit_sha[:10]}"

    @property
    def parameter_names(self) -> set[str]:
        return {str(p["name"]) for p in self.parameters or [] if "name" in p}


class WorkflowSearchEntry(models.Model):
    """The FTS5 row of a workflow (SQLite only); see esap.search."""

    workflow = models.OneToOneField(
        Workflow, primary_key=True, db_column="rowid", on_delete=models.DO_NOTHING, related_name="search_entry"
    )
    document = FullTextMatchField(db_column="workflows_workflow_fts")

    class Meta:
        managed = False
        db_table = "workflows_workflow_fts"
