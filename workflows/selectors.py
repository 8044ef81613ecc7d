"""Reads of the workflow catalogue."""
from django.db.models import QuerySet

from esap.search import full_text_search
from workflows.models import Workflow


def workflow_list(*, query: str = "", kernel: str = "", include_hidden: bool = False) -> QuerySet[Workflow]:
    workflows = Workflow.objects.defer("notebook")
    if not include_hidden:
        workflows = workflows.filter(is_public=True)
    if kernel:
        workflows = workflows.filter(kernel_name=kernel)
    return full_text_search(workflows, query) if query else workflows


def workflow_get(*, pk: int, include_hidden: bool = False) -> Workflow:
    visible = Workflow.objects.all() if include_hidden else Workflow.objects.filter(is_public=True)
    return visible.get(pk=pk)
