from django.shortcuts import render

from facilities.selectors import facility_list
from staging.selectors import dataset_list
from workflows.selectors import workflow_list


def home_page(request):
    """One search box over the three catalogues, a few hits of each."""
    query = request.GET.get("q", "").strip()[:200]
    context = {"q": query}
    if query:
        context.update(
            facilities=facility_list(query=query, viewer=request.user)[:5],
            workflows=workflow_list(query=query, viewer=request.user)[:5],
            datasets=dataset_list(query=query)[:10],
        )
    return render(request, "home.html", context)
