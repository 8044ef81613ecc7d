from django.conf import settings
from django.shortcuts import render

from esap.pages import search_query
from facilities.selectors import facility_list
from staging.selectors import cart_for, dataset_list
from workflows.selectors import workflow_list


def home_page(request):
    """One search box over the three catalogues, a few hits of each."""
    query, error = search_query(request)
    context = {"q": query, "error": error, "max_query_length": settings.ESAP_MAX_QUERY_LENGTH}
    if query and not error:
        context.update(
            facilities=facility_list(query=query, viewer=request.user)[:5],
            workflows=workflow_list(query=query, viewer=request.user)[:5],
            datasets=dataset_list(query=query)[:10],
            in_cart=_datasets_in_cart(request.user),
        )
    return render(request, "home.html", context, status=400 if error else 200)


def _datasets_in_cart(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(cart_for(user=user).items.values_list("dataset_id", flat=True))
