"""Reads of the workflow catalogue, always as seen by one viewer (public, their groups, or staff: all)."""
from django.db.models import Prefetch, Q, QuerySet

from esap.search import full_text_search
from workflows.models import Repository, Workflow


def visible_to(viewer) -> Q:
    if viewer is not None and viewer.is_staff:
        return Q()
    visible = Q(is_public=True)
    if viewer is not None and viewer.is_authenticated:
        visible |= Q(groups__in=viewer.groups.all())
    return visible


def workflow_list(*, query: str = "", kernel: str = "", viewer=None) -> QuerySet[Workflow]:
    workflows = Workflow.objects.defer("notebook").filter(pk__in=_offered(viewer))
    if kernel:
        workflows = workflows.filter(kernel_name=kernel)
    return full_text_search(workflows, query) if query else workflows


def workflow_get(*, pk: int, viewer=None) -> Workflow:
    """Raises Workflow.DoesNotExist for unknown workflows and for those the viewer may not see alike."""
    return Workflow.objects.filter(pk__in=_offered(viewer)).get(pk=pk)


def _offered(viewer) -> QuerySet:
    """What the viewer may see and launch: visible to them and not withdrawn (its notebook gone from its
    repository; operators too no longer launch it, and past launches keep their versions)."""
    return Workflow.objects.filter(visible_to(viewer), withdrawn_at__isnull=True).values("pk")


def repository_list() -> QuerySet[Repository]:
    """Operators' view of the repositories, each with `listed_workflows` (just their ids), all read in one
    query rather than one per repository."""
    workflows = Prefetch("workflows", Workflow.objects.only("pk", "repository"), to_attr="listed_workflows")
    return Repository.objects.order_by("pk").prefetch_related(workflows)
