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
        """Django's refusal page lists launches still running or ready on the facilities: deleted under
        them, their servers would run on with nobody able to stop them from the portal."""
        from staging.selectors import live_launches_on

        deleted, counts, permissions, protected = super().get_deleted_objects(objs, request)
        for facility in objs:
            for launch in live_launches_on(facility=facility).select_related("user")[:20]:
                protected.append(f"Launch {launch.pk} of {launch.user} ({launch.state}): it must be stopped, "
                                 "cancelled or ended first")
        return deleted, counts, permissions, protected

    @admin.action(description="Probe the selected facilities' hubs now")
    def probe(self, request, queryset) -> None:
        for facility in queryset:
            facility_probe(facility=facility)
        self.message_user(request, f"Probed {queryset.count()} facilities.")
