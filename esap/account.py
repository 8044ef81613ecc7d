"""The user's preferences and whether the portal may e-mail them: read, and changed from the account page;
who may make an account; and no password reset by mail where no mail is sent."""
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import LoginForm
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from esap.models import AccountSettings


def account_settings_update(*, user, email_when_launch_ends: bool) -> AccountSettings:
    preferences, _ = AccountSettings.objects.update_or_create(
        user=user, defaults={"email_when_launch_ends": email_when_launch_ends})
    return preferences


# Backends that deliver nothing (the demo's default prints): with them the portal neither sends nor says it did.
UNDELIVERED = ("django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.dummy.EmailBackend")


def mail_is_sent() -> bool:
    return settings.EMAIL_BACKEND not in UNDELIVERED


def account_context(request) -> dict:
    """For the pages that would otherwise promise a mail (password reset) or a sign-up that is closed."""
    return {"mail_is_sent": mail_is_sent(), "signup_is_open": settings.ESAP_OPEN_SIGNUP}


def email_verified(user) -> bool:
    return bool(user.email) and EmailAddress.objects.filter(user=user, email__iexact=user.email,
                                                            verified=True).exists()


def may_email(user) -> bool:
    """They want e-mail and their address is verified (by allauth, or their identity provider's
    `email_verified`): nobody can make the portal write to someone else's address."""
    return AccountSettings.of(user).email_when_launch_ends and email_verified(user)


@login_required
@require_POST
def account_settings_page(request):
    wanted = request.POST.get("email_when_launch_ends") == "on"
    account_settings_update(user=request.user, email_when_launch_ends=wanted)
    messages.success(request, "You will be e-mailed when a launch you stopped watching ends." if wanted
                     else "You will not be e-mailed about your launches.")
    return redirect("account-tokens")


class PortalLoginForm(LoginForm):
    """No "Forgot your password?" where the reset mail would never arrive."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not mail_is_sent():
            self.fields["password"].help_text = ""


class AccountAdapter(DefaultAccountAdapter):
    """Local sign-up only where ESAP_OPEN_SIGNUP allows it: on a facility without an identity provider a
    portal username is the hub username, so whoever picks a name would launch as that hub user."""

    def is_open_for_signup(self, request) -> bool:
        return settings.ESAP_OPEN_SIGNUP


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Sign-up through a configured identity provider stays open: the provider vouches for the person."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return True
