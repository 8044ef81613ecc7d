from django.http import Http404
from django.shortcuts import render

from esap.pages import search_page
from facilities import selectors
from facilities.models import Facility


def facility_list_page(request):
    return search_page(request, "facilities/list.html",
                       lambda q: selectors.facility_list(query=q, viewer=request.user))


def facility_detail_page(request, slug: str):
    try:
        facility = selectors.facility_get(slug=slug, viewer=request.user)
    except Facility.DoesNotExist:
        raise Http404("No such facility.") from None
    return render(request, "facilities/detail.html", {"facility": facility})
