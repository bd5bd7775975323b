"""amoCRM in the admin: the connection (expiry only, never token values) and the field/enum ids."""

from django.contrib import admin

from amocrm.models import CustomField, CustomFieldEnum, OAuthToken


@admin.register(OAuthToken)
class OAuthTokenAdmin(admin.ModelAdmin):
    list_display = ["base_url", "expires_at", "last_refreshed_at", "updated_at"]
    # Only these are shown; the encrypted columns are never rendered, not even as ciphertext.
    fields = ["base_url", "expires_at", "last_refreshed_at", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # connect at /amocrm/oauth/start/ or with manage.py amocrm_connect

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CustomFieldEnumInline(admin.TabularInline):
    model = CustomFieldEnum
    fields = ["key", "value", "enum_id", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "field_id", "field_type", "code", "updated_at"]
    search_fields = ["name", "code"]
    fields = ["key", "name", "field_id", "field_type", "code", "created_at", "updated_at"]
    readonly_fields = fields
    inlines = [CustomFieldEnumInline]

    def has_add_permission(self, request) -> bool:
        return False
