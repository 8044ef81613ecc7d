"""Request checks that hold for every page and endpoint."""
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL = "\x00"
NUL_REFUSED = "A parameter holds a NUL character, which no field of this portal can contain."


class RefuseNulCharacters:
    """A NUL in a query string or form field would reach the database, which PostgreSQL refuses with an
    error (a 500). No value the portal accepts can hold one, so such a request is a 400 at the door."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"error": "invalid", "detail": NUL_REFUSED}, status=400)
            return HttpResponseBadRequest(NUL_REFUSED)
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    fields = [request.GET]
    if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",
                                                            "multipart/form-data"):
        fields.append(request.POST)
    return any(NUL in key or any(NUL in value for value in values)
               for query in fields for key, values in query.lists())
