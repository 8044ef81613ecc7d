from collections.abc import Callable

from django import forms
from django.contrib import admin

from esap.errors import UserError
from workflows.models import Repository, Workflow, WorkflowVersion
from workflows.services import git_url_clean, ref_clean, repository_enqueue_harvest, repository_save


class WorkflowVersionInline(admin.TabularInline):
    model = WorkflowVersion
    extra = 0
    can_delete = False
    fields = ["commit_sha", "title", "kernel_name", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        # A row is named after its workflow (WorkflowVersion.__str__), not after the workflow's notebook.
        return super().get_queryset(request).select_related("workflow").defer("workflow__notebook")


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "notebook_path", "commit_sha", "kernel_name", "is_public",
                    "withdrawn_at", "updated_at"]
    list_filter = ["kernel_name", "is_public", ("withdrawn_at", admin.EmptyFieldListFilter), "repository"]
    search_fields = ["title", "slug", "keywords", "repository_url"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [WorkflowVersionInline]
    filter_horizontal = ["groups"]

    def get_exclude(self, request, obj=None) -> list[str]:
        return ["is_public"] if _harvested(obj) else []

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return ["visibility"] if _harvested(obj) else []

    @admin.display(description="Public")
    def visibility(self, workflow: Workflow) -> str:
        return f"{'yes' if workflow.is_public else 'no'}: follows its repository (change it there)"


def _harvested(workflow: Workflow | None) -> bool:
    return workflow is not None and workflow.repository_id is not None


class RepositoryForm(forms.ModelForm):
    class Meta:
        model = Repository
        fields = ["url", "ref", "is_public"]
        help_texts = {"is_public": "Its workflows follow: unticked, they are hidden from everyone but "
                                   "operators and the groups given on each workflow."}

    def clean_url(self) -> str:
        return _form_checked(git_url_clean, self.cleaned_data["url"])

    def clean_ref(self) -> str:
        return _form_checked(ref_clean, self.cleaned_data["ref"])


def _form_checked(clean: Callable[[str], str], value: str) -> str:
    try:
        return clean(value)
    except UserError as error:
        raise forms.ValidationError(error.message) from error


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    form = RepositoryForm
    list_display = ["url", "ref", "status", "commit_sha", "harvested_at", "is_public"]
    list_filter = ["status", "is_public"]
    readonly_fields = ["status", "commit_sha", "harvested_at", "last_error", "problems", "environment"]
    actions = ["harvest_now"]

    def save_model(self, request, obj, form, change) -> None:
        repository_save(repository=obj)

    @admin.action(description="Harvest the selected repositories now")
    def harvest_now(self, request, queryset) -> None:
        for repository in queryset:
            repository_enqueue_harvest(repository=repository)
        self.message_user(request, f"Harvest queued for {queryset.count()} repositories.")
