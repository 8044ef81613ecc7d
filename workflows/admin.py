from django.contrib import admin

from workflows.models import Repository, Workflow, WorkflowVersion
from workflows.services import repository_enqueue_harvest


class WorkflowVersionInline(admin.TabularInline):
    model = WorkflowVersion
    extra = 0
    can_delete = False
    fields = ["commit_sha", "title", "kernel_name", "created_at"]
    readonly_fields = fields


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "notebook_path", "commit_sha", "kernel_name", "is_public", "updated_at"]
    list_filter = ["kernel_name", "is_public", "repository"]
    search_fields = ["title", "slug", "keywords", "repository_url"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [WorkflowVersionInline]
    filter_horizontal = ["groups"]


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ["url", "ref", "status", "commit_sha", "harvested_at", "is_public"]
    list_filter = ["status", "is_public"]
    readonly_fields = ["status", "commit_sha", "harvested_at", "last_error", "problems", "environment"]
    actions = ["harvest_now"]

    def save_model(self, request, obj, form, change) -> None:
        from workflows.services import git_url_clean

        obj.url = git_url_clean(obj.url)
        super().save_model(request, obj, form, change)
        repository_enqueue_harvest(repository=obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.clean_url = _clean_url
        return form

    @admin.action(description="Harvest the selected repositories now")
    def harvest_now(self, request, queryset) -> None:
        for repository in queryset:
            repository_enqueue_harvest(repository=repository)
        self.message_user(request, f"Harvest queued for {queryset.count()} repositories.")


def _clean_url(form) -> str:
    from django import forms

    from esap.errors import UserError
    from workflows.services import git_url_clean

    try:
        return git_url_clean(form.cleaned_data["url"])
    except UserError as error:
        raise forms.ValidationError(error.message) from error
