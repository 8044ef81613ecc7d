"""The demo's Virtual Observatory services. Public registries and data-centre services work only where the
portal reaches the internet and are marked so; they are not used by the tests, which run their own GAVO
DaCHS (tests/servers/vo). ESAP_DEMO_VO_URL adds such a local server (e.g. `python -m tests.servers.vo.dachs
--port 18280`, then ESAP_DEMO_VO_URL=http://localhost:18280) for an offline demo."""
import os

from staging.models import VOService

PUBLIC = [
    ("gavo-regtap", "GAVO registry (RegTAP)", "registry", "http://reg.g-vo.org/tap",
     "The registry pyvo uses by default: finds TAP and SIA2 services of the whole VO."),
    ("euro-vo-regtap", "Euro-VO registry (RegTAP)", "registry", "http://registry.euro-vo.org/regtap/tap",
     "An alternative full registry."),
    ("stsci-regtap", "STScI registry (RegTAP)", "registry", "https://vao.stsci.edu/RegTAP/TapService.aspx",
     "An alternative full registry, run by STScI."),
    ("gavo-dc-tap", "GAVO Data Center (TAP, ObsCore)", "tap", "http://dc.g-vo.org/tap",
     "GAVO's data centre: ObsCore over many collections (images, spectra, time series)."),
    ("gavo-dc-sia2", "GAVO Data Center (SIA2)", "sia2", "http://dc.g-vo.org/__system__/siap2/sitewide/siap2.xml",
     "Image search over GAVO's ObsCore table."),
]


def load_vo_services() -> int:
    for slug, name, kind, url, description in PUBLIC:
        VOService.objects.update_or_create(slug=slug, defaults={
            "name": name, "kind": kind, "url": url, "needs_internet": True,
            "description": f"{description} Needs internet access from the portal and the facility."})
    if local := os.environ.get("ESAP_DEMO_VO_URL", "").rstrip("/"):
        for slug, kind, url in (("local-dachs-tap", "tap", f"{local}/tap"),
                                ("local-dachs-sia2", "sia2", f"{local}/__system__/siap2/sitewide/siap2.xml"),
                                ("local-dachs-regtap", "registry", f"{local}/tap")):
            VOService.objects.update_or_create(slug=slug, defaults={
                "name": f"Local DaCHS ({kind})", "kind": kind, "url": url, "needs_internet": False,
                "description": "The offline GAVO DaCHS server of the esap test suite, started by hand."})
    return VOService.objects.count()
