from django import forms
from django.contrib import admin

from esap.admin_forms import KeepsSecretsForm, write_only_secret
from esap.errors import UserError
from facilities.models import Facility, ServerProfile
from facilities.services import facility_probe, hub_url_clean


class FacilityAdminForm(KeepsSecretsForm):
    api_token = write_only_secret("Portal's API token for this hub", "token")
    secret_fields = ("api_token",)

    class Meta:
        model = Facility
        fields = "__all__"

    def clean_hub_url(self) -> str:
        try:
            return hub_url_clean(self.cleaned_data["hub_url"])
        except UserError as error:
            raise forms.ValidationError(error.message) from error


class ServerProfileInline(admin.TabularInline):
    model = ServerProfile
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("facility")  # rows are named after it


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    form = FacilityAdminForm
    inlines = [ServerProfileInline]
    list_display = ["name", "slug", "hub_url", "visibility", "health", "hub_version", "probed_at"]
    list_filter = ["visibility", "health", "staging_mode"]
    search_fields = ["name", "slug", "keywords"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["health", "health_message", "hub_version", "probed_at"]
    filter_horizontal = ["groups"]
    actions = ["probe"]

    def get_deleted_objects(self, objs, request):
        """Django's refusal page lists the launches that may still hold a server on the facilities: deleted
        under them, their servers would run on with nobody able to stop them from the portal."""
        from staging.selectors import live_launches_on

        deleted, counts, permissions, protected = super().get_deleted_objects(objs, request)
        for facility in objs:
            launches = live_launches_on(facility=facility).select_related("user")
            protected.extend(_why_kept(launch) for launch in launches[:20])
            if (more := launches.count() - 20) > 0:
                protected.append(f"and {more} more launches on {facility.name}")
        return deleted, counts, permissions, protected

    @admin.action(description="Probe the selected facilities' hubs now")
    def probe(self, request, queryset) -> None:
        for facility in queryset:
            facility_probe(facility=facility)
        self.message_user(request, f"Probed {queryset.count()} facilities.")


def _why_kept(launch) -> str:
    """Which launch keeps a facility, and what must happen before the facility can go."""
    return (f"{_what_keeps(launch)}; or select it under Checkouts and use 'Stop selected launches' (if the "
            "hub is gone for good, then 'Record the servers of selected launches as gone with their hub')")


def _what_keeps(launch) -> str:
    what = f"Launch {launch.pk} of {launch.user}"
    if launch.state == "failed":
        return (f"{what} (failed at {launch.failed_step}; its server {launch.server_name} may still run): "
                "it must be cancelled first (Cancel on the launch's page), which stops its server")
    if launch.state in ("cancelled", "stopped"):
        return (f"{what} ({launch.state}, but its server {launch.server_name} could not be stopped): "
                "it must be stopped first (Try stopping the server again, on the launch's page, "
                "once the hub answers)")
    return f"{what} ({launch.state}): it must be stopped, cancelled or ended first"
