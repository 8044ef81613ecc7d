"""OpenAPI schema additions: the personal API tokens (`Authorization: Bearer esap_…`) as a security
scheme, so that the interactive docs can authorise as scripts do.

drf-spectacular finds an extension once its class is defined; SPECTACULAR_SETTINGS names
`register_extensions` as a preprocessing hook, which imports this module before any view is described."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
