"""Harvests of one repository never step on each other: the hourly beat re-queues a repository still being
harvested and operators can queue it again, yet each notebook stays one workflow and no run fails."""
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

from tests.workflows.test_harvest import analysis_notebook
from workflows import services
from workflows.models import Repository, Workflow

_BEFORE, _AFTER = ("workflows", "0006_version_per_commit"), ("workflows", "0007_one_workflow_per_notebook")


@pytest.fixture(autouse=True)
def local_git_allowed(settings):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = True


def harvest_at_once(repositories: list[Repository], monkeypatch) -> list[str]:
    """Harvests of `repositories` run in parallel, each reaching its write phase only once all have
    scanned (the widest window); their outcomes, as a worker task would have logged them."""
    everyone_scanned = threading.Barrier(len(repositories))
    scan = services.scan_repository

    def scan_then_wait_for_the_others(folder):
        found = scan(folder)
        everyone_scanned.wait(timeout=30)
        return found

    monkeypatch.setattr(services, "scan_repository", scan_then_wait_for_the_others)
    outcomes: list[str] = []
    runs = [threading.Thread(target=harvest, args=(repository, outcomes)) for repository in repositories]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    return outcomes


@contextmanager
def a_harvest_held_back_before_recording(repository: Repository, monkeypatch) -> Iterator[list[str]]:
    """A harvest of `repository` that has fetched and scanned, and records only when the block ends (a slow
    worker); its outcome is in the list yielded."""
    scanned, release = threading.Event(), threading.Event()
    scan = services.scan_repository

    def scan_then_hold(folder):
        found = scan(folder)
        if threading.current_thread().name == "held-back":
            scanned.set()
            release.wait(timeout=30)
        return found

    monkeypatch.setattr(services, "scan_repository", scan_then_hold)
    outcomes: list[str] = []
    held_back = threading.Thread(target=harvest, args=(repository, outcomes), name="held-back")
    held_back.start()
    assert scanned.wait(timeout=30)
    try:
        yield outcomes
    finally:
        release.set()
        held_back.join()


def harvest(repository: Repository, outcomes: list[str]) -> None:
    try:
        outcomes.append(services.repository_harvest(repository_id=repository.pk).status)
    except Exception as error:  # noqa: BLE001 - what a crashed worker task would have logged
        outcomes.append(repr(error))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_harvests_of_one_repository_at_once_make_one_workflow_per_notebook(git_server, monkeypatch):
    git_server.commit("at-once", {"crab.ipynb": analysis_notebook(), "vela.ipynb": analysis_notebook("Vela")})
    repository = Repository.objects.create(url=git_server.url("at-once"), ref="main")
    outcomes = harvest_at_once([repository, repository], monkeypatch)

    assert outcomes == ["ok", "ok"]
    assert sorted(Workflow.objects.filter(repository=repository).values_list("notebook_path", flat=True)) == [
        "crab.ipynb", "vela.ipynb"]
    assert Repository.objects.get(pk=repository.pk).last_error == ""


@pytest.mark.django_db(transaction=True)
def test_two_repositories_with_notebooks_of_one_title_harvested_at_once_both_get_their_workflow(
        git_server, monkeypatch):
    repositories = []
    for name in ("team-a", "team-b"):
        git_server.commit(name, {"crab.ipynb": analysis_notebook()})
        repositories.append(Repository.objects.create(url=git_server.url(name), ref="main"))
    outcomes = harvest_at_once(repositories, monkeypatch)

    assert outcomes == ["ok", "ok"]
    slugs = sorted(Workflow.objects.filter(repository__in=repositories).values_list("slug", flat=True))
    assert len(slugs) == 2 and slugs[1] == f"{slugs[0]}-2"


@pytest.mark.django_db(transaction=True)
def test_a_harvest_recorded_after_a_newer_one_does_not_bring_back_older_content(git_server, monkeypatch):
    git_server.commit("overtaken", {"crab.ipynb": analysis_notebook("Crab A")})
    repository = Repository.objects.create(url=git_server.url("overtaken"), ref="main")
    services.repository_harvest(repository_id=repository.pk)  # the hourly harvest at A

    with a_harvest_held_back_before_recording(repository, monkeypatch) as outcomes:  # fetched A
        pushed = git_server.commit("overtaken", {"crab.ipynb": analysis_notebook("Crab B")})
        services.repository_harvest(repository_id=repository.pk)  # fetched B, recorded first
    recorded_last = Workflow.objects.get(repository=repository)
    services.repository_harvest(repository_id=repository.pk)  # the next hourly harvest, at B again

    assert outcomes == ["ok"]
    assert (recorded_last.title, recorded_last.commit_sha) == ("Crab B", pushed)
    workflow = Workflow.objects.get(repository=repository)
    assert (workflow.title, workflow.commit_sha, workflow.versions.first().commit_sha) == (
        "Crab B", pushed, pushed)
    assert Repository.objects.get(pk=repository.pk).commit_sha == pushed


@pytest.mark.django_db(transaction=True)
def test_a_harvest_of_a_ref_changed_while_it_ran_records_nothing(git_server, monkeypatch):
    pinned = git_server.commit("repinned", {"crab.ipynb": analysis_notebook("Crab A")})
    repository = Repository.objects.create(url=git_server.url("repinned"), ref="main")
    services.repository_harvest(repository_id=repository.pk)
    git_server.commit("repinned", {"crab.ipynb": analysis_notebook("Crab B")})

    with a_harvest_held_back_before_recording(repository, monkeypatch) as outcomes:  # fetched main, at B
        Repository.objects.filter(pk=repository.pk).update(ref=pinned)  # an operator pins the repository

    assert outcomes == ["ok"]
    workflow = Workflow.objects.get(repository=repository)
    assert (workflow.title, workflow.ref, workflow.commit_sha) == ("Crab A", "main", pinned)
    assert Repository.objects.get(pk=repository.pk).commit_sha == pinned


@pytest.mark.django_db
def test_the_database_holds_one_workflow_per_notebook_of_a_repository():
    repository = Repository.objects.create(url="git://127.0.0.1/x", ref="main")
    Workflow.objects.create(repository=repository, notebook_path="crab.ipynb", slug="crab", notebook={})

    with pytest.raises(IntegrityError):
        Workflow.objects.create(repository=repository, notebook_path="crab.ipynb", slug="crab-2", notebook={})


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_oldest_duplicate_in_its_repository_and_detaches_the_others():
    executor = MigrationExecutor(connection)
    executor.migrate([_BEFORE])
    apps = executor.loader.project_state([_BEFORE]).apps
    OldRepository = apps.get_model("workflows", "Repository")
    OldWorkflow = apps.get_model("workflows", "Workflow")
    repository = OldRepository.objects.create(url="git://127.0.0.1/x", ref="main")
    oldest, duplicate, other = (
        OldWorkflow.objects.create(repository=repository, notebook_path=path, slug=slug, notebook={})
        for path, slug in [("crab.ipynb", "crab"), ("crab.ipynb", "crab-2"), ("vela.ipynb", "vela")])

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([_AFTER])

    repositories = dict(Workflow.objects.values_list("pk", "repository_id"))
    assert repositories == {oldest.pk: repository.pk, duplicate.pk: None, other.pk: repository.pk}
    assert Workflow.objects.filter(pk=duplicate.pk).exists()  # kept: carts and checkouts may point at it
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
