"""Pages and REST endpoints to create, list and revoke one's own API tokens."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from esap.account import email_verified, mail_is_sent
from esap.crypto import decrypt, encrypt
from esap.models import AccountSettings, ApiToken
from esap.numbers import whole_number


def token_revoke(*, user, pk: int) -> None:
    """Raises ApiToken.DoesNotExist unless the token is the user's own and still active."""
    token = ApiToken.objects.get(pk=pk, user=user, revoked_at__isnull=True)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


FRESH_TOKEN = "esap_fresh_token"


@login_required
def token_page(request):
    """A made token is shown by the GET that follows (so a reload does not make another), that once: it
    waits in the session encrypted, never in the clear."""
    if request.method == "POST":
        name = request.POST.get("name", "").strip()[:100]
        days = whole_number(request.POST.get("days")) or settings.ESAP_API_TOKEN_DAYS
        if not name:
            messages.error(request, "Give the token a name, e.g. the script that will use it.")
        else:
            _, secret = ApiToken.issue(user=request.user, name=name, days=days)
            request.session[FRESH_TOKEN] = encrypt(secret)
        return redirect("/account/tokens/")
    fresh = request.session.pop(FRESH_TOKEN, None)
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    return render(request, "account/tokens.html", {
        "tokens": tokens, "fresh": decrypt(fresh) if fresh else None,
        "longest_days": settings.ESAP_API_TOKEN_DAYS, "preferences": AccountSettings.of(request.user),
        "mail_is_sent": mail_is_sent(), "email_verified": email_verified(request.user)})


@login_required
@require_POST
def token_revoke_page(request, pk: int):
    try:
        token_revoke(user=request.user, pk=pk)
    except ApiToken.DoesNotExist:  # revoked already (a second click, another tab), or not the user's
        messages.error(request, "That token is not among your active tokens: it is revoked already.")
    else:
        messages.success(request, "Token revoked.")
    return redirect("/account/tokens/")


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    hint = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    expired = serializers.BooleanField()


class TokenCreatedOutputSerializer(TokenOutputSerializer):
    token = serializers.CharField(help_text="The token itself: shown this once, never again.")


class TokenListApi(generics.ListAPIView):
    """GET: the caller's active tokens (never the tokens themselves). POST: a new one, shown once."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = TokenOutputSerializer

    @extend_schema_serializer(component_name="TokenCreateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        days = serializers.IntegerField(min_value=1, required=False,
                                        help_text="How long the token lives; by default, and at most, "
                                                  "ESAP_API_TOKEN_DAYS.")

        def validate_days(self, days: int) -> int:
            if days > settings.ESAP_API_TOKEN_DAYS:
                raise serializers.ValidationError(f"At most {settings.ESAP_API_TOKEN_DAYS}.")
            return days

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user, revoked_at__isnull=True)

    @extend_schema(request=InputSerializer, responses={201: TokenCreatedOutputSerializer})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):  # else a token could renew itself past its expiry forever
            raise exceptions.PermissionDenied("Tokens are made while logged in (the account page or a browser "
                                              "session), not with another token.")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        token, secret = ApiToken.issue(user=request.user, name=payload.validated_data["name"],
                                       days=payload.validated_data.get("days"))
        return Response({**TokenOutputSerializer(token).data, "token": secret}, status=201)


class TokenRevokeApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        token_revoke(user=request.user, pk=pk)
        return Response(status=204)
