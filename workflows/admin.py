from django.contrib import admin

from workflows.models import Workflow


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "notebook_path", "commit_sha", "kernel_name", "is_public", "updated_at"]
    list_filter = ["kernel_name", "is_public"]
    search_fields = ["title", "slug", "keywords", "repository_url"]
    prepopulated_fields = {"slug": ["title"]}
