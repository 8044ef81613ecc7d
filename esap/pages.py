"""Helpers shared by the portal's pages: a searched, paginated list and safe redirects."""
from typing import Any, Callable

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from esap.search import CappedCountPaginator

PAGE_SIZE = 20


def search_page(request: HttpRequest, template: str, search: Callable[[str], QuerySet],
                **context: Any) -> Any:
    """Render `template` with `page` (a page of `search(q)`), `q` and a form error if `q` is refused."""
    query, error = search_query(request)
    # A refused query finds nothing: the user's text stays in the box with the reason, not the whole catalogue.
    results = search("").none() if error else search(query)
    page = CappedCountPaginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    status = 400 if error else 200
    return render(request, template, {"page": page, "q": query, "error": error,
                                      "max_query_length": settings.ESAP_MAX_QUERY_LENGTH, **context},
                  status=status)


def search_query(request: HttpRequest) -> tuple[str, str]:
    """The `q` the user typed (kept as typed, to show it again) and why it is refused, or ""."""
    query = request.GET.get("q", "").strip()
    if len(query) > settings.ESAP_MAX_QUERY_LENGTH or "\x00" in query:
        return query.replace("\x00", ""), f"Search text must be at most {settings.ESAP_MAX_QUERY_LENGTH} characters."
    return query, ""


def back_to(request: HttpRequest, default: str) -> str:
    """The page the user came from (the `next` field or the referrer) if it is ours, else `default`."""
    target = request.POST.get("next") or request.META.get("HTTP_REFERER", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default
