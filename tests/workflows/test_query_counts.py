"""The workflow catalogue costs the same number of queries for a few workflows, versions or repositories
as for many: nothing is read once per row shown (pages, API, the operators' admin)."""
import itertools

import pytest
from rest_framework.test import APIClient

from tests.factories import demo_notebook, make_user, make_workflow
from tests.query_counts import FEW, MANY, few_and_many, queries_of
from workflows.models import Repository, Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


@pytest.fixture
def operator_api() -> APIClient:
    api = APIClient()
    api.force_authenticate(make_user(staff=True))
    return api


def add_workflows(count: int) -> None:
    for _ in range(count):
        make_workflow()


def workflow_with_versions(count: int) -> Workflow:
    """A workflow read at `count` commits (its first version and count - 1 more)."""
    workflow = make_workflow()
    for _ in range(count - 1):
        WorkflowVersion.objects.create(
            workflow=workflow, commit_sha=f"{next(_numbers):040x}", content_hash=f"{next(_numbers):064x}",
            title=workflow.title, kernel_name=workflow.kernel_name, parameters=workflow.parameters,
            notebook=workflow.notebook)
    return workflow


def add_repositories(count: int) -> None:
    """Harvested repositories of two workflows each."""
    for _ in range(count):
        repository = Repository.objects.create(url=f"https://git.example.org/analysis-{next(_numbers)}.git")
        for path in ("crab.ipynb", "vela.ipynb"):
            workflow = make_workflow(demo_notebook(), path=path)
            Workflow.objects.filter(pk=workflow.pk).update(repository=repository)


def test_the_workflow_list_page_costs_the_same_for_3_workflows_as_for_30(scientist):
    few, many = few_and_many(add_workflows, lambda: queries_of(scientist, "/workflows/"))

    assert few == many


def test_the_workflow_list_api_costs_the_same_for_3_workflows_as_for_30(scientist_api):
    few, many = few_and_many(add_workflows, lambda: queries_of(scientist_api, "/api/workflows/"))

    assert few == many


@pytest.mark.parametrize("path", ["/workflows/{pk}/", "/api/workflows/{pk}/",
                                  "/api/workflows/{pk}/versions/"])
def test_a_workflow_costs_the_same_with_3_versions_as_with_30(path, scientist, scientist_api):
    client = scientist_api if path.startswith("/api/") else scientist
    few, many = workflow_with_versions(FEW), workflow_with_versions(MANY)

    assert queries_of(client, path.format(pk=few.pk)) == queries_of(client, path.format(pk=many.pk))


def test_the_repository_list_api_costs_the_same_for_3_repositories_as_for_30(operator_api):
    """Each repository lists its workflows: all of them read at once, not once per repository."""
    few, many = few_and_many(add_repositories, lambda: queries_of(operator_api, "/api/repositories/"))

    assert few == many


def test_the_repository_list_api_still_lists_each_repositorys_own_workflows(operator_api):
    add_repositories(2)
    other = make_workflow()

    rows = operator_api.get("/api/repositories/").json()["results"]

    listed = {row["url"]: row["workflows"] for row in rows}
    assert len(listed) == 2
    for repository in Repository.objects.all():
        assert sorted(listed[repository.url]) == sorted(repository.workflows.values_list("pk", flat=True))
        assert other.pk not in listed[repository.url]


@pytest.mark.parametrize("changelist, add_rows", [
    ("/admin/workflows/workflow/", add_workflows),
    ("/admin/workflows/repository/", add_repositories),
])
def test_the_admin_lists_cost_the_same_for_3_rows_as_for_30(changelist, add_rows, admin_client_logged_in):
    few, many = few_and_many(add_rows, lambda: queries_of(admin_client_logged_in, changelist))

    assert few == many


def test_a_workflow_in_the_admin_costs_the_same_with_3_versions_as_with_30(admin_client_logged_in):
    """Each version row of the form is named after its workflow: read with the rows, not once per row."""
    few, many = workflow_with_versions(FEW), workflow_with_versions(MANY)

    assert (queries_of(admin_client_logged_in, f"/admin/workflows/workflow/{few.pk}/change/")
            == queries_of(admin_client_logged_in, f"/admin/workflows/workflow/{many.pk}/change/"))
