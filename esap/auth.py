"""REST authentication with personal API tokens: `Authorization: Bearer esap_…`."""
from django.utils import timezone
from rest_framework import authentication, exceptions

from esap.models import TOKEN_PREFIX, ApiToken, token_digest


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if len(header) != 2 or header[0] != self.keyword or not header[1].startswith(TOKEN_PREFIX):
            return None
        token = (ApiToken.objects.select_related("user")
                 .filter(digest=token_digest(header[1]), revoked_at__isnull=True).first())
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
