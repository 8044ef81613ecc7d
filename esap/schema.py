"""OpenAPI schema additions: the personal API tokens (`Authorization: Bearer esap_…`) as a security
scheme, so that the interactive docs can authorise as scripts do; the interactive docs page itself.

drf-spectacular finds an extension once its class is defined; SPECTACULAR_SETTINGS names
`register_extensions` as a preprocessing hook, which imports this module before any view is described."""
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.request import Request


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "esap.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "esap_…",
            "description": "A personal API token made on the account page (/account/tokens/), sent as "
                           "`Authorization: Bearer esap_…`.",
        }


def register_extensions(endpoints):
    """A no-op preprocessing hook: being imported is what registers the extensions above."""
    return endpoints


class ApiDocsView(SpectacularSwaggerView):
    """The Swagger UI page. Its only renderer is the page's template, through which DRF would also render
    its OPTIONS answer (a description of the view, lacking the page's context: the template failed, a
    500); a page has nothing to describe, so OPTIONS answers the allowed methods only."""

    def options(self, request: Request, *args, **kwargs) -> HttpResponse:
        return HttpResponse(headers={"Allow": ", ".join(self.allowed_methods)})
