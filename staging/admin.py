from django.contrib import admin

from esap.admin_forms import KeepsSecretsForm, write_only_secret
from staging.models import Cart, CartItem, Checkout, CheckoutEvent, DataLake, Dataset, VOService


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
    inlines = [CartItemInline]
    raw_id_fields = ["user", "frozen_by"]


class CheckoutEventInline(admin.TabularInline):
    model = CheckoutEvent
    extra = 0
    can_delete = False
    readonly_fields = ["phase", "message", "progress", "data", "created_at"]


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    """Read-only: states change only through the pipeline's transitions."""

    list_display = ["id", "user", "state", "facility_slug", "profile_slug", "workflow_title", "created_at"]
    list_filter = ["state", "facility_slug"]
    inlines = [CheckoutEventInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


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
