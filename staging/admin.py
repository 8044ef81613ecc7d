from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename

from esap.admin_forms import KeepsSecretsForm, write_only_secret
from esap.errors import UserError
from facilities.models import ServerProfile
from staging.checkout.services import checkout_end_by_operator, checkout_forget_server_by_operator
from staging.models import Cart, CartItem, Checkout, CheckoutEvent, DataLake, Dataset, VOService
from workflows.models import WorkflowVersion


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "identifier", "size_bytes", "created_at"]
    list_filter = ["source"]
    search_fields = ["title", "identifier"]


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    raw_id_fields = ["dataset"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["user", "workflow", "facility", "profile", "frozen_by", "updated_at"]
    # Django's own select_related() skips nullable keys; a profile's name includes its facility's slug.
    list_select_related = ["user", "workflow", "facility", "profile__facility", "frozen_by"]
    inlines = [CartItemInline]
    raw_id_fields = ["user", "frozen_by"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """The profile and version choices with the facility and workflow each is named by."""
        if db_field.name == "profile":
            kwargs["queryset"] = ServerProfile.objects.select_related("facility")
        elif db_field.name == "workflow_version":
            kwargs["queryset"] = (WorkflowVersion.objects.select_related("workflow")
                                  .defer("notebook", "workflow__notebook"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CheckoutEventInline(admin.TabularInline):
    model = CheckoutEvent
    extra = 0
    can_delete = False
    readonly_fields = ["phase", "message", "progress", "data", "created_at"]


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    """Read-only: states change only through the pipeline's transitions, and through the one action that
    ends launches as their users' own Cancel or Stop would."""

    list_display = ["id", "user", "state", "facility_slug", "profile_slug", "workflow_title", "created_at"]
    list_filter = ["state", "facility_slug"]
    inlines = [CheckoutEventInline]
    actions = ["stop_launches", "forget_servers"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_stop_permission(self, request) -> bool:
        """The model's change permission, which the read-only change form otherwise never grants."""
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    @admin.action(description="Stop selected launches (and their servers)", permissions=["stop"])
    def stop_launches(self, request, queryset) -> None:
        outcomes: dict[str, list[str]] = {"ended": [], "over": [], "refused": []}
        for launch in queryset.select_related("user"):
            outcome, line = _end(launch, operator=request.user)
            outcomes[outcome].append(line)
        for outcome, (head, level) in _REPORTS.items():
            if lines := outcomes[outcome]:
                self.message_user(request, head.format(count=len(lines)) + _listed(lines) + ".", level)


    @admin.action(description="Record the servers of selected launches as gone with their hub",
                  permissions=["stop"])
    def forget_servers(self, request, queryset) -> None:
        """For a hub that is gone for good: its launches' servers cannot be stopped, and they would keep
        their facility from being deleted for ever."""
        forgotten, refused = [], []
        for launch in queryset.select_related("user"):
            try:
                checkout_forget_server_by_operator(operator=request.user, pk=launch.pk)
                forgotten.append(f"{launch.pk} of {launch.user}")
            except UserError as error:
                refused.append(f"{launch.pk} of {launch.user}: {error.message}")
        if forgotten:
            self.message_user(request, f"Recorded {len(forgotten)} servers as gone: {_listed(forgotten)}.",
                              messages.SUCCESS)
        if refused:
            self.message_user(request, f"{len(refused)} not recorded: {_listed(refused)}.", messages.ERROR)


_REPORTS = {"ended": ("Ended {count} launches; their servers are being stopped: ", messages.SUCCESS),
            "over": ("{count} already over, with no server left to stop: ", messages.WARNING),
            "refused": ("{count} could not be ended: ", messages.ERROR)}


def _end(launch: Checkout, *, operator) -> tuple[str, str]:
    """Which outcome the operator's stop had on the launch, and the launch as the report names it."""
    name = f"{launch.pk} of {launch.user}"
    try:
        checkout_end_by_operator(operator=operator, pk=launch.pk)
    except UserError as error:
        if error.code in ("checkout.not_cancellable", "checkout.not_stoppable"):
            return "over", f"{name} ({error.params['state']})"
        return "refused", f"{name}: {error.message}"
    return "ended", f"{name} (was {launch.state})"


def _listed(lines: list[str], shown: int = 20) -> str:
    more = f"; and {len(lines) - shown} more" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


class DataLakeAdminForm(KeepsSecretsForm):
    password = write_only_secret("Password of the portal's Rucio identity", "password")
    secret_fields = ("password",)

    class Meta:
        model = DataLake
        fields = "__all__"


@admin.register(DataLake)
class DataLakeAdmin(admin.ModelAdmin):
    form = DataLakeAdminForm
    list_display = ["name", "slug", "server_url", "account"]
@admin.register(VOService)
class VOServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "url", "needs_internet", "enabled"]
    list_filter = ["kind", "needs_internet", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
