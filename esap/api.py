"""API conventions shared by every app: pagination (counts capped for the catalogue) and one error body
shape."""
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError as DjangoValidationError
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
    default, for what belongs to the caller (launches, tokens): every page of it can be reached."""

    page_size_query_param = "page_size"

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        cap = settings.ESAP_MAX_PAGE_SIZE
        size = whole_number(raw)
        if size is None or not 1 <= size <= cap:
            raise exceptions.ValidationError({"page_size": [f"Must be an integer from 1 to {cap}."]})
        return size

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
    """For catalogue searches: counts stop at ESAP_SEARCH_COUNT_CAP (see CappedCountPaginator)."""

    django_paginator_class = CappedCountPaginator

    @property
    def invalid_page_message(self) -> str:  # DRF formats it with page_number and message
        return ("Invalid page {page_number}: {message} At most the first "
                f"{settings.ESAP_SEARCH_COUNT_CAP} results can be paged through; refine the search.")


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
