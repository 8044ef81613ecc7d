"""Notebook workflows: a notebook in a Git repository, pinned to the commit it was read at."""
from django.db import models

from esap.search import FullTextMatchField, Searchable


class Workflow(Searchable):
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    keywords = models.CharField(max_length=500, blank=True, help_text="Comma-separated.")
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
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

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


class WorkflowSearchEntry(models.Model):
    """The FTS5 row of a workflow (SQLite only); see esap.search."""

    workflow = models.OneToOneField(
        Workflow, primary_key=True, db_column="rowid", on_delete=models.DO_NOTHING, related_name="search_entry"
    )
    document = FullTextMatchField(db_column="workflows_workflow_fts")
    rank = models.FloatField()

    class Meta:
        managed = False
        db_table = "workflows_workflow_fts"
