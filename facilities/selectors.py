"""Reads of the facility catalogue, always as seen by one viewer (public, their groups, or staff: all)."""
from django.db.models import Prefetch, Q, QuerySet

from esap.search import full_text_search
from facilities.models import Facility, ServerProfile, Visibility


def visible_to(viewer) -> Q:
    if viewer is not None and viewer.is_staff:
        return Q()
    visible = Q(visibility=Visibility.PUBLIC)
    if viewer is not None and viewer.is_authenticated:
        visible |= Q(visibility=Visibility.GROUPS, groups__in=viewer.groups.all())
    return visible


def facility_list(*, query: str = "", health: str = "", viewer=None) -> QuerySet[Facility]:
    facilities = Facility.objects.prefetch_related(Prefetch("profiles", ServerProfile.objects.all()))
    facilities = facilities.filter(pk__in=Facility.objects.filter(visible_to(viewer)).values("pk"))
    if health:
        facilities = facilities.filter(health=health)
    return full_text_search(facilities, query) if query else facilities


def facility_get(*, slug: str, viewer=None) -> Facility:
    """Raises Facility.DoesNotExist for unknown facilities and for those the viewer may not see alike."""
    return facility_list(viewer=viewer).get(slug=slug)


def profile_get(*, facility: Facility, slug: str) -> ServerProfile:
    return facility.profiles.get(slug=slug)
