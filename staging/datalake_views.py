"""The data-lake search page: pick a lake, a scope, a name pattern and metadata; what is found enters the
catalogue and can go into the cart from the results."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from esap.errors import EsapError
from staging import selectors
from staging.datalakes import datalake_list, datalake_search


def _metadata(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("Write metadata filters as key=value, one per line.")
    return {key.strip(): value.strip() for key, value in pairs}


@login_required
@require_GET
def datalake_search_page(request):
    """A GET form, like /vo/: the search is in the address, so adding a result to the cart comes back to
    the same results (and a search can be bookmarked)."""
    form = {"lake": "", "scope": "", "name": "*", "metadata": ""}
    context = {"lakes": datalake_list(), "results": None, "error": ""}
    if "lake" in request.GET:
        form = {key: request.GET.get(key, default)[:400] for key, default in form.items()}
        try:
            context["results"] = datalake_search(slug=form["lake"], scope=form["scope"], name=form["name"],
                                                 metadata=_metadata(form["metadata"]), limit=50)
        except (EsapError, ValueError) as error:
            context["error"] = getattr(error, "message", str(error))
    in_cart = selectors.cart_for(user=request.user).items.values_list("dataset_id", flat=True)
    return render(request, "staging/datalake_search.html", {**context, "form": form, "in_cart": set(in_cart)},
                  status=400 if context["error"] else 200)
