"""A registered repository governs its workflows: who may see them follows the repository whenever an
operator saves it (admin or API) and at every harvest, and its ref is checked alike wherever it is entered."""
import itertools

import pytest
from rest_framework.test import APIClient

from tests.factories import make_user
from tests.workflows.test_harvest import analysis_notebook
from workflows.models import Repository, Workflow
from workflows.services import repository_harvest

pytestmark = pytest.mark.django_db
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def local_git_allowed(settings):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = True


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    """Saving a repository queues a harvest; these tests harvest by hand."""
    monkeypatch.setattr("workflows.tasks.repository_harvest_task.delay", lambda repository_id: None)


def harvested_public_repository(git_server) -> Repository:
    name = f"visibility-{next(_names)}"
    git_server.commit(name, {"crab.ipynb": analysis_notebook(), "vela.ipynb": analysis_notebook("Vela")})
    repository = Repository.objects.create(url=git_server.url(name), ref="main", is_public=True)
    return repository_harvest(repository_id=repository.pk)


def listed_ids(viewer=None) -> set[int]:
    api = APIClient()
    if viewer is not None:
        api.force_authenticate(viewer)
    return {row["id"] for row in api.get("/api/workflows/").json()["results"]}


def detail_status(workflow: Workflow, viewer=None) -> int:
    api = APIClient()
    if viewer is not None:
        api.force_authenticate(viewer)
    return api.get(f"/api/workflows/{workflow.pk}/").status_code


def operator_api() -> APIClient:
    api = APIClient()
    api.force_authenticate(make_user(staff=True))
    return api


def test_marking_a_harvested_repository_private_in_the_admin_hides_its_workflows(
        git_server, admin_client_logged_in):
    repository = harvested_public_repository(git_server)
    workflows = list(Workflow.objects.filter(repository=repository))
    assert {w.pk for w in workflows} <= listed_ids()

    response = admin_client_logged_in.post(f"/admin/workflows/repository/{repository.pk}/change/",
                                           {"url": repository.url, "ref": repository.ref})  # box unticked

    assert response.status_code == 302
    other_user = make_user()
    for viewer in (None, other_user):
        assert not {w.pk for w in workflows} & listed_ids(viewer)
        assert {detail_status(w, viewer) for w in workflows} == {404}
    assert {w.pk for w in workflows} <= listed_ids(make_user(staff=True))


def test_a_harvest_brings_the_workflows_in_line_with_their_repository(git_server):
    repository = harvested_public_repository(git_server)
    Repository.objects.filter(pk=repository.pk).update(is_public=False, url=repository.url + "/")

    repository_harvest(repository_id=repository.pk)

    assert set(Workflow.objects.filter(repository=repository).values_list("is_public", "repository_url")) == {
        (False, repository.url + "/")}
    assert not listed_ids()


def test_registering_a_repository_again_with_another_visibility_changes_it_and_its_workflows(git_server):
    repository = harvested_public_repository(git_server)

    response = operator_api().post("/api/repositories/", {"url": repository.url, "ref": repository.ref,
                                                          "is_public": False}, format="json")

    assert response.status_code == 202
    assert (response.json()["id"], response.json()["is_public"]) == (repository.pk, False)
    assert Repository.objects.get(pk=repository.pk).is_public is False
    assert not listed_ids() and not listed_ids(make_user())


def test_registering_a_repository_again_without_a_visibility_keeps_the_one_it_has(git_server):
    repository = harvested_public_repository(git_server)
    operator_api().post("/api/repositories/", {"url": repository.url, "is_public": False}, format="json")

    response = operator_api().post("/api/repositories/", {"url": repository.url}, format="json")

    assert (response.status_code, response.json()["is_public"]) == (202, False)
    assert not listed_ids()


def test_a_new_repository_is_public_unless_registered_otherwise():
    api = operator_api()

    public = api.post("/api/repositories/", {"url": "git://127.0.0.1/public"}, format="json").json()
    private = api.post("/api/repositories/", {"url": "git://127.0.0.1/private", "is_public": False},
                       format="json").json()

    assert (public["is_public"], private["is_public"]) == (True, False)


def test_a_harvested_workflow_takes_its_visibility_from_its_repository_not_from_its_own_admin_page(
        git_server, admin_client_logged_in):
    workflow = Workflow.objects.filter(repository=harvested_public_repository(git_server)).first()

    page = admin_client_logged_in.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()

    assert 'name="is_public"' not in page and "follows its repository" in page


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/pwned", "-c", "main branch", "main\tbranch"])
def test_the_admin_refuses_a_ref_git_would_not_read_as_a_ref(ref, admin_client_logged_in):
    response = admin_client_logged_in.post("/admin/workflows/repository/add/",
                                           {"url": "git://127.0.0.1/x", "ref": ref, "is_public": "on"})

    assert response.status_code == 200
    assert "is not a Git ref (a branch, tag or commit SHA)" in response.content.decode()
    assert not Repository.objects.exists()


@pytest.mark.parametrize("url, reason", [("http://example.org:99999/x", "Port out of range"),
                                         ("http://[::1/x", "Invalid IPv6 URL")])
def test_the_admin_refuses_a_url_that_cannot_be_parsed_with_the_reason(url, reason, admin_client_logged_in):
    response = admin_client_logged_in.post("/admin/workflows/repository/add/",
                                           {"url": url, "ref": "main", "is_public": "on"})

    assert response.status_code == 200
    assert reason in response.content.decode()
    assert not Repository.objects.exists()


def test_the_admin_and_the_api_accept_the_same_refs(admin_client_logged_in):
    admin_client_logged_in.post("/admin/workflows/repository/add/",
                                {"url": "git://127.0.0.1/x", "ref": "release/v1.2", "is_public": "on"})
    operator_api().post("/api/repositories/", {"url": "git://127.0.0.1/y", "ref": "v1.2"}, format="json")

    assert sorted(Repository.objects.values_list("ref", flat=True)) == ["release/v1.2", "v1.2"]
