"""Reads of the workflow catalogue, always as seen by one viewer (public, their groups, or staff: all)."""
from django.db.models import Q, QuerySet

from esap.search import full_text_search
from workflows.models import Workflow


def visible_to(viewer) -> Q:
    if viewer is not None and viewer.is_staff:
        return Q()
    visible = Q(is_public=True)
    if viewer is not None and viewer.is_authenticated:
        visible |= Q(groups__in=viewer.groups.all())
    return visible


def workflow_list(*, query: str = "", kernel: str = "", viewer=None) -> QuerySet[Workflow]:
    workflows = Workflow.objects.defer("notebook").filter(
        pk__in=Workflow.objects.filter(visible_to(viewer)).values("pk"))
    if kernel:
        workflows = workflows.filter(kernel_name=kernel)
    return full_text_search(workflows, query) if query else workflows


def workflow_get(*, pk: int, viewer=None) -> Workflow:
    """Raises Workflow.DoesNotExist for unknown workflows and for those the viewer may not see alike."""
    return Workflow.objects.filter(pk__in=Workflow.objects.filter(visible_to(viewer)).values("pk")).get(pk=pk)
