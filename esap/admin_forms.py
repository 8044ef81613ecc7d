"""Admin forms for models holding a secret (a hub token, a data lake's password): the secret is
write-only, never rendered back, and a blank field keeps the stored one."""
from typing import Any

from django import forms


def write_only_secret(label: str, what: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, widget=forms.PasswordInput(render_value=False),
        help_text=f"Stored encrypted and never shown again. Leave empty to keep the current {what}.")


class KeepsSecretsForm(forms.ModelForm):
    secret_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.secret_fields:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        return cleaned
