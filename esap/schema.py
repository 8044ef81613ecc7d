"""OpenAPI schema additions: the personal API tokens (`Authorization: Bearer esap_…`) as a security
scheme, so that the interactive docs can authorise as scripts do; the error answers of every operation,
with the portal's one error body (see `esap.api.exception_handler`).

drf-spectacular finds an extension once its class is defined; SPECTACULAR_SETTINGS names
`register_extensions` as a preprocessing hook, which imports this module before any view is described."""
from types import SimpleNamespace
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication

from esap.errors import MESSAGES

ERROR_BODY = {
    "type": "object",
    "description": "The body of every error answer. `error` is a stable id: `invalid` (see `fields`), one of "
                   "DRF's (`not_found`, `not_authenticated`, `authentication_failed`, `permission_denied`, "
                   "`method_not_allowed`, `unsupported_media_type`, `parse_error`, `throttled`) or one of "
                   f"the portal's: {', '.join(f'`{code}`' for code in MESSAGES)}.",
    "properties": {
        "error": {"type": "string", "example": "invalid"},
        "detail": {"type": "string", "description": "What went wrong, for a person to read.",
                   "example": "The request is not valid."},
        "fields": {"type": "object", "additionalProperties": {},
                   "description": "Only with `invalid`: each refused query parameter or body field, with its "
                                  "reasons.",
                   "example": {"page_size": ["Must be an integer from 1 to 100."]}},
    },
    "required": ["error", "detail"],
}

# The operations that call a remote service while the caller waits, and answer a 503 when it fails. The
# code cannot tell them apart (the call is deep in a service), so they are named here; a test checks that
# each name is still a view of the API.
UPSTREAM_VIEWS = {
    "staging.datalake_apis.DataLakeSearchApi": "the data lake (Rucio) could not be reached or failed "
                                               "(`datalake.unavailable`); a retry later may succeed",
    **dict.fromkeys(
        [f"staging.vo_apis.{name}" for name in ("VOSearchApi", "VOCartAddApi", "VORegistrySearchApi")],
        "the VO service is down, answered something that is not a VOTable, or led to an address the portal "
        "may not call (`vo.unavailable`); a retry later may succeed"),
}

# Stand-ins for the callers whose access the permission classes are asked about.
_ANONYMOUS = SimpleNamespace(is_authenticated=False, is_active=False, is_staff=False, is_superuser=False)
_SIGNED_IN = SimpleNamespace(is_authenticated=True, is_active=True, is_staff=False, is_superuser=False)


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


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, plus the error answers each operation can give, all with the `Error` body:
    400 for input (query parameters, a body, or a write the portal may refuse in the present state), 401
    where anonymous callers are refused, 403 for operators' operations and for writes (a browser session's
    CSRF check), 404 for a path naming an object and for pages, 503 where a remote service is called."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA,
                                  object="esap.api.exception_handler", schema=ERROR_BODY)
        self.registry.register_on_missing(error)
        for code, description in self._error_answers(operation).items():
            operation["responses"].setdefault(code, {
                "description": description, "content": {"application/json": {"schema": error.ref}}})
        return operation

    def _error_answers(self, operation: dict) -> dict[str, str]:
        located = {parameter["in"] for parameter in operation.get("parameters", [])}
        writes = self.method not in permissions.SAFE_METHODS
        upstream = UPSTREAM_VIEWS.get(f"{type(self.view).__module__}.{type(self.view).__qualname__}", "")
        reasons = {
            "400": [("the input is not valid (`invalid`, with the reasons in `fields`)",
                     "query" in located or "requestBody" in operation),
                    ("the portal refuses the request as things stand, with a message id saying why", writes)],
            "401": [("not logged in (`not_authenticated`), or the API token is invalid, revoked or expired "
                     "(`authentication_failed`)", self._refused(_ANONYMOUS))],
            "403": [("only operators (staff accounts) may do this (`permission_denied`)",
                     self._refused(_SIGNED_IN)),
                    ("a browser session's request lacks its CSRF token (`permission_denied`)",
                     writes and self._uses_sessions())],
            "404": [("nothing the caller may see is at this path (`not_found`)", "path" in located),
                    ("the page is past the last one (`not_found`)", self._is_paginated())],
            "503": [(upstream, bool(upstream))],
        }
        texts = {code: [text for text, applies in pairs if applies] for code, pairs in reasons.items()}
        return {code: _sentence(", or ".join(applying)) for code, applying in texts.items() if applying}

    def _refused(self, user: Any) -> bool:
        request = SimpleNamespace(method=self.method, user=user)
        return not all(check.has_permission(request, self.view) for check in self.view.get_permissions())

    def _uses_sessions(self) -> bool:
        return any(isinstance(each, SessionAuthentication) for each in self.view.get_authenticators())

    def _is_paginated(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."

def register_extensions(endpoints):
    """A no-op preprocessing hook: being imported is what registers the extensions above."""
    return endpoints
