"""The user's preferences: read, and changed from the account page."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from esap.models import AccountSettings


def account_settings_update(*, user, email_when_launch_ends: bool) -> AccountSettings:
    preferences, _ = AccountSettings.objects.update_or_create(
        user=user, defaults={"email_when_launch_ends": email_when_launch_ends})
    return preferences


@login_required
@require_POST
def account_settings_page(request):
    wanted = request.POST.get("email_when_launch_ends") == "on"
    account_settings_update(user=request.user, email_when_launch_ends=wanted)
    messages.success(request, "You will be e-mailed when a launch you stopped watching ends." if wanted
                     else "You will not be e-mailed about your launches.")
    return redirect("/account/tokens/")
