"""API conventions shared by every app: pagination (counts capped for the catalogue) and one error body
shape."""
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from esap.errors import EsapError, ServiceError
from esap.numbers import whole_number
from esap.search import CappedCountPaginator


class ExactPageNumberPagination(PageNumberPagination):
    """`?page=` and `?page_size=`; a page size above the cap is refused, not silently clamped. The
    default, for what belongs to the caller (launches, tokens): every page of it can be reached.

    A malformed page or page size is a 400 naming the parameter, as any bad input is; a well-formed page
    past the last one is a 404 that names the last page."""

    page_size_query_param = "page_size"
    page_query_description = "A page number from 1, or `last`; a page past the last one is a 404."

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list | None:
        self.request = request
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        paginator = self.django_paginator_class(queryset, page_size)
        number = self.get_page_number(request, paginator)
        if number > paginator.num_pages:
            raise exceptions.NotFound(self.past_the_end_message(number, paginator))
        self.page = paginator.page(number)
        self.display_page_controls = paginator.num_pages > 1
        return list(self.page)

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        cap = settings.ESAP_MAX_PAGE_SIZE
        size = whole_number(raw)
        if size is None or not 1 <= size <= cap:
            raise exceptions.ValidationError({"page_size": [f"Must be an integer from 1 to {cap}."]})
        return size

    def get_page_number(self, request: Any, paginator: Paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        number = whole_number(raw)
        if number is None or number < 1:
            raise exceptions.ValidationError({"page": ["Must be an integer of at least 1 (or 'last')."]})
        return number

    def past_the_end_message(self, number: int, paginator: Paginator) -> str:
        return f"There is no page {number}: the last page is {paginator.num_pages}."

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "count_is_exact": getattr(self.page.paginator, "count_is_exact", True),
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paged = super().get_paginated_response_schema(schema)
        properties = paged["properties"]
        paged["properties"] = {
            "count": {**properties["count"],
                      "description": "How many results there are; a lower bound when count_is_exact is false."},
            "count_is_exact": {"type": "boolean",
                               "description": "False when counting stopped at the search count cap.",
                               "example": True},
            **{name: value for name, value in properties.items() if name != "count"},
        }
        paged["required"] = ["count", "count_is_exact", "results"]
        return paged


class CappedPageNumberPagination(ExactPageNumberPagination):
    """For catalogue searches: counts stop at ESAP_SEARCH_COUNT_CAP (see CappedCountPaginator), so the
    pages past the cap cannot be reached; asking for one says so and how to get there."""

    django_paginator_class = CappedCountPaginator

    def past_the_end_message(self, number: int, paginator: Paginator) -> str:
        if getattr(paginator, "count_is_exact", True):
            return super().past_the_end_message(number, paginator)
        cap = settings.ESAP_SEARCH_COUNT_CAP
        return (f"There is no page {number} to show: at most the first {cap} results of a search can be "
                f"paged through (the last page is {paginator.num_pages}); refine the search to reach the "
                "others.")


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error body is `{"error": code, "detail": text, ...}` with a 4xx for what the caller can fix."""
    if isinstance(exc, EsapError):
        code = status.HTTP_503_SERVICE_UNAVAILABLE if isinstance(exc, ServiceError) else 400
        return Response({"error": exc.code, "detail": exc.message}, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound(f"No such {_model_name(exc)}.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = _error_body(exc, response.data)
    return response


@csrf_exempt
def not_found(request: HttpRequest, unmatched: str = "") -> HttpResponse:
    """Every /api/ path no endpoint matches: the usual JSON error body rather than Django's HTML page. A
    path that only lacks its trailing slash is still redirected to the endpoint it names (APPEND_SLASH),
    as it was before this catch-all existed."""
    path = request.path_info
    if settings.APPEND_SLASH and not path.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return JsonResponse({"error": "not_found", "detail": f"No API endpoint at {request.path}."}, status=404)


def _model_name(exc: ObjectDoesNotExist) -> str:
    name = type(exc).__qualname__.removesuffix(".DoesNotExist")
    return name.lower() if name != "ObjectDoesNotExist" else "object"


def _error_body(exc: Exception, data: Any) -> dict:
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        return {"error": "invalid", "detail": "The request is not valid.", "fields": data}
    detail = data.get("detail", data) if isinstance(data, dict) else data
    return {"error": code, "detail": str(detail)}


def search_query_param(request: Any) -> str:
    """The `?q=` of a search request, refused with a reason when it is unreasonably long."""
    query = request.query_params.get("q", "")
    cap = settings.ESAP_MAX_QUERY_LENGTH
    if len(query) > cap:
        raise exceptions.ValidationError({"q": [f"At most {cap} characters."]})
    if "\x00" in query:
        raise exceptions.ValidationError({"q": ["Must not contain NUL characters."]})
    return query.strip()
