"""REST authentication with personal API tokens: `Authorization: Bearer esap_…`."""
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from esap.models import TOKEN_PREFIX, ApiToken, token_digest

LAST_USE_PRECISION = timedelta(minutes=1)  # a script's every call need not be a database write


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
        if token.expired:
            raise exceptions.AuthenticationFailed(
                f"This API token expired on {token.expires_at:%Y-%m-%d}; make a new one on your account page "
                "(/account/tokens/).")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
