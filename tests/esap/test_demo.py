"""The demo catalogue loads real notebooks and the sample files of the built-in source, idempotently."""
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from facilities.models import Facility
from staging.models import Dataset, VOService
from staging.sources.base import DatasetRef, StagingTarget
from staging.sources.local import local_source
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def test_demo_load_creates_facilities_workflows_datasets_and_logins(capsys):
    call_command("demo_load", force=True)
    call_command("demo_load", force=True)

    assert Facility.objects.filter(slug__in=["local", "local-drills", "swan-example"]).count() == 3
    assert Workflow.objects.count() == 4
    assert Workflow.objects.get(slug="demo-open-vo-images").parameter_names == {
        "datasets", "dataset_paths", "staged_datasets"}
    assert VOService.objects.filter(needs_internet=True).count() == 5  # public ones, never used by tests
    light_curves = Workflow.objects.get(slug="demo-light-curve-summary")
    assert light_curves.parameter_names == {"datasets", "dataset_paths", "facility", "profile"}
    assert Dataset.objects.filter(source="local").count() == len(local_source.scan()) >= 5
    assert authenticate(username="demo", password="esap-demo-2026") is not None
    assert "demo / esap-demo-2026" in capsys.readouterr().out


def test_local_source_stages_a_file_to_its_absolute_path_and_refuses_escapes():
    record = local_source.scan()[0]
    target = StagingTarget(facility_slug="local")

    staged = local_source.stage([DatasetRef(record.identifier)], target=target)

    assert staged[0].location.endswith(record.identifier) and staged[0].location.startswith("/")
    from staging.sources.base import StagingError
    with pytest.raises(StagingError, match="leaves the data folder"):
        local_source.stage([DatasetRef("../../../etc/passwd")], target=target)
    with pytest.raises(StagingError, match="no such file"):
        local_source.stage([DatasetRef("missing.csv")], target=target)


def test_the_demo_is_never_loaded_into_a_production_portal_by_mistake(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="passwords are published"):
        call_command("demo_load")
    assert not User.objects.filter(username="admin").exists()
