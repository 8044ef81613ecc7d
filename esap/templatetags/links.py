"""Links to addresses the portal did not choose (a remote archive's access URL): only web addresses."""
from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def web_url(value: object) -> str:
    """`value` if it is an http(s) URL, else "": a `javascript:` or `data:` URL from a remote service would
    run in the portal's page when clicked."""
    text = str(value or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    return text if scheme in {"http", "https"} else ""
