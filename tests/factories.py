"""Building catalogue state the way the portal does: through its services."""
import itertools
import json
from pathlib import Path

from django.contrib.auth import get_user_model

from facilities.models import Facility
from facilities.services import facility_create
from staging.models import Dataset
from staging.services import dataset_upsert
from staging.sources.base import DatasetRecord
from workflows.models import Workflow
from workflows.services import workflow_create_from_notebook

DEMO_NOTEBOOKS = Path(__file__).resolve().parents[1] / "esap" / "demo" / "notebooks"
_counter = itertools.count(1)


def make_user(username: str = "", *, staff: bool = False, password: str = "a-long-test-password"):
    username = username or f"user{next(_counter)}"
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=staff)
    user.raw_password = password
    return user


def make_facility(slug: str = "", *, hub_url: str = "http://127.0.0.1:9", token: str = "hub-secret-token",
                  profiles: tuple[str, ...] = ("small", "medium"), **fields) -> Facility:
    slug = slug or f"facility-{next(_counter)}"
    return facility_create(
        name=fields.pop("name", f"Facility {slug}"), slug=slug, hub_url=hub_url, api_token=token,
        profiles=[{"slug": p, "display_name": p.title()} for p in profiles], **fields,
    )


def demo_notebook(name: str = "peek_at_files.ipynb") -> dict:
    return json.loads((DEMO_NOTEBOOKS / name).read_text())


def make_workflow(notebook: dict | None = None, *, path: str = "peek_at_files.ipynb", **fields) -> Workflow:
    return workflow_create_from_notebook(
        notebook=notebook or demo_notebook(path), notebook_path=path,
        commit_sha=fields.pop("commit_sha", "0123456789abcdef0123456789abcdef01234567"), **fields,
    )


def make_dataset(identifier: str = "", *, title: str = "", source: str = "local", **fields) -> Dataset:
    identifier = identifier or f"sample-{next(_counter)}.csv"
    return dataset_upsert(record=DatasetRecord(
        source=source, identifier=identifier, title=title or identifier, **fields))
