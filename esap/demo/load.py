"""The demo catalogue: facilities on the local hub, the notebooks in esap/demo/notebooks, the sample files
of the built-in local data source, and two accounts. Loading twice changes nothing."""
import json
import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from facilities.models import Facility, ServerProfile, Visibility
from esap.demo.vo import load_vo_services
from staging.services import datasets_upsert
from staging.sources.local import local_source
from workflows.models import Workflow
from workflows.services import workflow_create_from_notebook

NOTEBOOKS = Path(__file__).parent / "notebooks"
DEMO_USER = ("demo", "esap-demo-2026")
DEMO_ADMIN = ("admin", "esap-admin-2026")

WORKFLOWS = [
    ("light_curve_summary.ipynb", "time series, pulsar, photometry, periodogram", 3),
    ("catalogue_overview.ipynb", "catalogue, stars, galaxies, table", 4),
    ("peek_at_files.ipynb", "quick look, files, check", 3),
    ("open_vo_images.ipynb", "virtual observatory, vo, fits, images, obscore", 3),
]


def _facilities(hub_url: str, hub_token: str) -> list[dict]:
    local = {"hub_url": hub_url, "api_token": hub_token, "staging_mode": "download"}
    return [
        dict(slug="local", name="Local JupyterHub", keywords="demo, local, jupyterlab", **local,
             description="A real JupyterHub on this machine, started by the demo command.",
             spawn_deadline_seconds=120,
             profiles=[("small", "Small server", "1 CPU, 2 GB"), ("medium", "Medium server", "2 CPU, 4 GB")]),
        dict(slug="local-drills", name="Local JupyterHub: failure drills", keywords="demo, faults", **local,
             description="The same hub with profiles that fail on purpose, to see how esap reports it.",
             spawn_deadline_seconds=15,
             profiles=[("exits", "Server exits at start", "The server process dies immediately."),
                       ("hangs", "Server never answers", "The spawn times out."),
                       ("nonexistent", "Profile the hub does not know", "The hub refuses the spawn.")]),
        dict(slug="swan-example", name="SWAN (catalogue example)", hub_url="https://swan.cern.ch",
             keywords="cern, swan, example", staging_mode="rule", data_rse_expression="CERN-PROD",
             data_mount_path="/eos", visibility=Visibility.PUBLIC,
             description="An example entry of a remote facility: no token is configured, so checkouts "
                         "to it fail with a clear message.",
             profiles=[("default", "Default", "SWAN's default environment")]),
    ]


@transaction.atomic
def load_demo(*, hub_url: str, hub_token: str) -> dict[str, int]:
    for spec in _facilities(hub_url, hub_token):
        _upsert_facility(dict(spec))
    for filename, keywords, first_cells in WORKFLOWS:
        _upsert_workflow(filename, keywords, first_cells)
    datasets = datasets_upsert(records=list(local_source.scan()))
    vo_services = load_vo_services()
    _ensure_user(*DEMO_USER, staff=False)
    _ensure_user(*DEMO_ADMIN, staff=True)
    return {"facilities": Facility.objects.count(), "workflows": Workflow.objects.count(),
            "datasets": len(datasets), "vo_services": vo_services}


def _upsert_facility(spec: dict) -> None:
    profiles = spec.pop("profiles")
    facility = Facility.objects.filter(slug=spec["slug"]).first() or Facility(slug=spec["slug"])
    for field, value in spec.items():
        setattr(facility, field, value)
    facility.save()
    for position, (slug, name, description) in enumerate(profiles):
        ServerProfile.objects.update_or_create(
            facility=facility, slug=slug,
            defaults={"display_name": name, "description": description, "position": position},
        )


def _upsert_workflow(filename: str, keywords: str, first_cells: int) -> None:
    slug = "demo-" + filename.removesuffix(".ipynb").replace("_", "-")
    if Workflow.objects.filter(slug=slug).exists():
        return
    workflow_create_from_notebook(
        notebook=json.loads((NOTEBOOKS / filename).read_text()), notebook_path=filename,
        repository_url="(bundled with esap)", ref="demo", commit_sha="", keywords=keywords,
        first_cells=first_cells, slug=slug,
    )


def _ensure_user(username: str, password: str, *, staff: bool) -> None:
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.is_staff = user.is_superuser = staff
        user.email = f"{username}@example.org"
        user.save()


def demo_hub_settings() -> tuple[str, str]:
    return (os.environ.get("ESAP_DEMO_HUB_URL", "http://127.0.0.1:8100"),
            os.environ.get("ESAP_DEMO_HUB_TOKEN", ""))
