from django.contrib import admin
from django.http import HttpRequest

from esap.models import LocalHubName


@admin.register(LocalHubName)
class LocalHubNameAdmin(admin.ModelAdmin):
    """Which hub user each portal user launches as, for operators answering "whose server is this?".
    Read-only: a name is given once and kept (see the model), so editing or freeing one here could hand
    one person's hub home and servers to another."""

    list_display = ["name", "user", "given_at"]
    search_fields = ["name", "user__username", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "given_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LocalHubName | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LocalHubName | None = None) -> bool:
        return False
