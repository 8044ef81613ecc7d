"""The interactive API docs page (Swagger UI). Not in esap.api or esap.schema: DRF's settings import those
while drf-spectacular's views module, which this one needs, is still being imported."""
from django.http import HttpResponse
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.request import Request


class ApiDocsView(SpectacularSwaggerView):
    """The Swagger UI page. Its only renderer is the page's template, through which DRF would also render
    its OPTIONS answer (a description of the view, lacking the page's context: the template failed, a
    500); a page has nothing to describe, so OPTIONS answers the allowed methods only."""

    def options(self, request: Request, *args, **kwargs) -> HttpResponse:
        return HttpResponse(headers={"Allow": ", ".join(self.allowed_methods)})
