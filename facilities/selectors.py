"""Reads of the facility catalogue."""
from django.db.models import Prefetch, QuerySet

from esap.search import full_text_search
from facilities.models import Facility, ServerProfile, Visibility


def facility_list(*, query: str = "", health: str = "", include_hidden: bool = False) -> QuerySet[Facility]:
    facilities = Facility.objects.prefetch_related(Prefetch("profiles", ServerProfile.objects.all()))
    if not include_hidden:
        facilities = facilities.filter(visibility=Visibility.PUBLIC)
    if health:
        facilities = facilities.filter(health=health)
    return full_text_search(facilities, query) if query else facilities


def facility_get(*, slug: str, include_hidden: bool = False) -> Facility:
    """Raises Facility.DoesNotExist for unknown and for hidden facilities alike."""
    return facility_list(include_hidden=include_hidden).get(slug=slug)


def profile_get(*, facility: Facility, slug: str) -> ServerProfile:
    return facility.profiles.get(slug=slug)
