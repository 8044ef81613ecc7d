"""Workflows harvested from real Git repositories (served by git daemon): read, pinned, re-harvested into
versions, and every fault reported without crashing the harvest."""
import itertools
import json
import time
from pathlib import Path

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DataError
from django.test import Client
from rest_framework.test import APIClient

from esap.errors import UserError
from facilities.models import Facility
from staging.checkout import steps
from staging.checkout.services import checkout_start
from tests.factories import make_dataset, make_facility, make_user
from tests.launching import notebook_with_cells
from workflows import services
from workflows.models import Repository, Workflow
from workflows.selectors import workflow_list
from workflows.services import repository_harvest

pytestmark = pytest.mark.django_db
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def local_git_allowed(settings):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def no_worker(monkeypatch):
    monkeypatch.setattr("workflows.tasks.repository_harvest_task.delay", lambda repository_id: None)


def analysis_notebook(title: str = "Crab timing", parameter_default: str = "crab", extra: str = "") -> dict:
    notebook = notebook_with_cells(f"print({parameter_default!r}){extra}")
    notebook["cells"][0]["source"] = f"# {title}\n\nTimes the pulsar."
    return notebook


def harvested(git_server, files: dict, *, ref: str = "main") -> Repository:
    name = f"repo-{next(_names)}"
    git_server.commit(name, files)
    repository = Repository.objects.create(url=git_server.url(name), ref=ref)
    return repository_harvest(repository_id=repository.pk)


def test_every_notebook_becomes_a_workflow_pinned_to_the_commit(git_server):
    name = f"repo-{next(_names)}"
    sha = git_server.commit(name, {"analysis/crab.ipynb": analysis_notebook(),
                                   "vela.ipynb": analysis_notebook("Vela timing"),
                                   "requirements.txt": "numpy\n", "binder/environment.yml": "name: x\n",
                                   "README.md": "# not a notebook\n"})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")

    repository = repository_harvest(repository_id=repository.pk)

    assert (repository.status, repository.commit_sha, repository.problems) == ("ok", sha, [])
    assert repository.environment == ["requirements.txt", "binder/environment.yml"]
    crab = Workflow.objects.get(repository=repository, notebook_path="analysis/crab.ipynb")
    assert (crab.title, crab.description, crab.kernel_name, crab.commit_sha) == (
        "Crab timing", "Times the pulsar.", "python3", sha)
    assert [p["name"] for p in crab.parameters] == ["datasets", "dataset_paths", "facility", "profile"]
    assert crab.environment == ["requirements.txt", "binder/environment.yml"]
    assert [v.commit_sha for v in crab.versions.all()] == [sha]
    assert Workflow.objects.filter(repository=repository).count() == 2


def test_reharvest_makes_a_new_version_of_a_changed_notebook_and_keeps_the_old_one(git_server):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook(), "vela.ipynb": analysis_notebook("Vela")})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)

    second = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="changed")})
    repository_harvest(repository_id=repository.pk)

    crab = Workflow.objects.get(repository=repository, notebook_path="crab.ipynb")
    vela = Workflow.objects.get(repository=repository, notebook_path="vela.ipynb")
    assert [v.commit_sha for v in crab.versions.all()] == [second, first]
    assert crab.commit_sha == second and "changed" in str(crab.notebook)
    assert [v.commit_sha for v in vela.versions.all()] == [first]  # unchanged: still pinned where it was read
    assert Repository.objects.get(pk=repository.pk).commit_sha == second


def test_a_notebook_reverted_to_older_content_is_current_again_at_the_reverting_commit(git_server):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="good")})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)
    second = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="broken")})
    repository_harvest(repository_id=repository.pk)

    reverted = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="good")}, "revert")
    repository_harvest(repository_id=repository.pk)

    crab = Workflow.objects.get(repository=repository, notebook_path="crab.ipynb")
    assert crab.commit_sha == reverted
    assert "'good'" in str(crab.notebook) and "'broken'" not in str(crab.notebook)
    assert [v.commit_sha for v in crab.versions.all()] == [reverted, second, first]
    assert crab.versions.first().notebook == crab.notebook  # what "latest" launches


def test_reharvesting_an_unchanged_notebook_adds_no_version(git_server):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook()})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)

    git_server.commit(name, {"README.md": "# unrelated change\n"})
    repository_harvest(repository_id=repository.pk)
    repository_harvest(repository_id=repository.pk)

    crab = Workflow.objects.get(repository=repository)
    assert crab.commit_sha == first and [v.commit_sha for v in crab.versions.all()] == [first]


def test_every_harvest_gives_unchanged_workflows_the_repositorys_ref_and_environment(git_server):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook()})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)

    tagged = git_server.commit(name, {"requirements.txt": "numpy\n"})
    repository_harvest(repository_id=repository.pk)
    with_requirements = Workflow.objects.get(repository=repository)
    Repository.objects.filter(pk=repository.pk).update(ref=tagged)  # as an operator's edit to another ref
    repository_harvest(repository_id=repository.pk)

    crab = Workflow.objects.get(repository=repository)
    assert with_requirements.environment == ["requirements.txt"]
    assert (crab.ref, crab.environment) == (tagged, ["requirements.txt"])
    assert crab.commit_sha == first and [v.commit_sha for v in crab.versions.all()] == [first]


def launching(workflow: Workflow, facility: Facility) -> AbstractBaseUser:
    """A user whose cart holds the workflow at its latest version, ready to check out."""
    from staging import services
    user = make_user()
    services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk)
    services.cart_choose_facility(user=user, facility_slug=facility.slug)
    return user


def test_a_notebook_gone_from_the_repository_is_withdrawn_and_its_past_launches_keep_it(git_server):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook(),
                                     "vela.ipynb": analysis_notebook("Vela")})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)
    crab = Workflow.objects.get(repository=repository, notebook_path="crab.ipynb")
    facility = make_facility()
    launched_before = launching(crab, facility)
    past_launch = checkout_start(user=launched_before)
    cart_holder = launching(crab, facility)
    staff = APIClient()
    staff.force_authenticate(make_user(staff=True))

    (git_server.root / name / "crab.ipynb").unlink()
    git_server.commit(name, {"renamed/crab.ipynb": analysis_notebook()}, "move crab")
    repository_harvest(repository_id=repository.pk)

    listed = [w["notebook_path"] for w in staff.get("/api/workflows/").json()["results"]]
    assert sorted(listed) == ["renamed/crab.ipynb", "vela.ipynb"]
    assert [w["notebook_path"] for w in staff.get("/api/workflows/?q=crab").json()["results"]] == [
        "renamed/crab.ipynb"]
    assert staff.get(f"/api/workflows/{crab.pk}/").status_code == 404
    with pytest.raises(UserError) as refused:
        checkout_start(user=cart_holder)
    assert refused.value.code == "cart.not_allowed" and "Crab timing" in refused.value.message
    assert [v.commit_sha for v in Workflow.objects.get(pk=crab.pk).versions.all()] == [first]
    client = Client()
    client.force_login(launched_before)
    receipt = client.get(f"/checkouts/{past_launch.pk}/receipt/")
    assert receipt.status_code == 200 and first in receipt.content.decode()


def test_a_withdrawn_notebook_that_comes_back_is_listed_again(git_server):
    name = f"repo-{next(_names)}"
    git_server.commit(name, {"crab.ipynb": analysis_notebook(), "vela.ipynb": analysis_notebook("Vela")})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)
    (git_server.root / name / "crab.ipynb").unlink()
    git_server.commit(name, {}, "remove crab")
    repository_harvest(repository_id=repository.pk)
    withdrawn = set(workflow_list().values_list("notebook_path", flat=True))

    back = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="back")}, "restore")
    repository_harvest(repository_id=repository.pk)

    assert withdrawn == {"vela.ipynb"}
    crab = workflow_list().get(notebook_path="crab.ipynb")
    assert crab.commit_sha == back and crab.versions.first().commit_sha == back


def test_an_old_version_stays_launchable(git_server):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="old")})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)
    git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="new")})
    repository_harvest(repository_id=repository.pk)
    workflow = Workflow.objects.get(repository=repository)
    user = make_user()
    from staging import services
    services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk, commit_sha=first)
    services.cart_choose_facility(user=user, facility_slug=make_facility().slug)

    checkout = checkout_start(user=user)

    assert checkout.workflow_commit == first
    launched = steps._notebook_for(checkout, checkout.workflow_version)
    assert "'old'" in str(launched) and "'new'" not in str(launched)


def test_a_branch_tag_or_commit_can_be_the_ref(git_server):
    name = f"repo-{next(_names)}"
    sha = git_server.commit(name, {"crab.ipynb": analysis_notebook()})
    git_server.commit(name, {"other.ipynb": analysis_notebook("Other")})
    repository = Repository.objects.create(url=git_server.url(name), ref=sha)

    repository = repository_harvest(repository_id=repository.pk)

    assert repository.commit_sha == sha
    assert list(Workflow.objects.filter(repository=repository).values_list("notebook_path", flat=True)) == [
        "crab.ipynb"]


def test_fault_repository_unreachable(git_server):
    repository = Repository.objects.create(url="git://127.0.0.1:9/nothing", ref="main")

    repository = repository_harvest(repository_id=repository.pk)

    assert repository.status == "failed" and "could not fetch" in repository.last_error


def test_fault_ref_missing(git_server):
    repository = harvested(git_server, {"crab.ipynb": analysis_notebook()}, ref="no-such-branch")

    assert repository.status == "failed" and "ref does not exist" in repository.last_error
    assert not Workflow.objects.filter(repository=repository).exists()


def test_fault_repository_too_large(git_server, settings):
    settings.ESAP_GIT_MAX_BYTES = 64 * 1024
    import os
    repository = harvested(git_server, {"crab.ipynb": analysis_notebook(), "data.bin": os.urandom(512 * 1024)})

    assert repository.status == "failed" and "larger than 65536 bytes" in repository.last_error


def test_fault_too_many_files(git_server, settings):
    settings.ESAP_GIT_MAX_FILES = 5
    repository = harvested(git_server, {f"f{i}.txt": "x" for i in range(10)})

    assert repository.status == "failed" and "more than 5 files" in repository.last_error


def test_fault_malformed_notebooks_are_reported_per_file_and_the_rest_harvested(git_server):
    bad_parameters = analysis_notebook()
    bad_parameters["cells"][1]["source"] = "datasets = []\nimport os\nfacility = compute()"
    repository = harvested(git_server, {
        "good.ipynb": analysis_notebook(),
        "not-json.ipynb": "{this is not json",
        "not-nbformat.ipynb": '{"cells": 3, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
        "params.ipynb": bad_parameters,
    })

    assert repository.status == "ok"
    problems = {p["path"]: p["problem"] for p in repository.problems}
    assert "not valid JSON" in problems["not-json.ipynb"]
    assert "nbformat" in problems["not-nbformat.ipynb"]
    assert "line 2" in problems["params.ipynb"] and "import os" in problems["params.ipynb"]
    assert list(Workflow.objects.filter(repository=repository).values_list("notebook_path", flat=True)) == [
        "good.ipynb"]


def test_fault_notebooks_the_database_cannot_hold_are_reported_per_file_and_the_rest_harvested(git_server):
    long_kernel = analysis_notebook("Long kernel name")
    long_kernel["metadata"]["kernelspec"]["name"] = "k" * 101
    nul_default = analysis_notebook("NUL in a default")
    nul_default["cells"][1]["source"] += '\nlabel = "a\\x00b"'
    nul_output = analysis_notebook("NUL in an output")
    nul_output["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "a\u0000b"}]
    long_path = f"{'d' * 250}/{'d' * 250}/long.ipynb"
    repository = harvested(git_server, {"good.ipynb": analysis_notebook(), "kernel.ipynb": long_kernel,
                                        "default.ipynb": nul_default, "output.ipynb": nul_output,
                                        long_path: analysis_notebook("Long path")})

    assert (repository.status, repository.last_error) == ("ok", "")
    problems = {p["path"]: p["problem"] for p in repository.problems}
    assert "kernel name is longer than 100 characters" in problems["kernel.ipynb"]
    assert "NUL character" in problems["default.ipynb"] and "NUL character" in problems["output.ipynb"]
    assert "path is longer than 500 characters" in problems[long_path]
    assert list(Workflow.objects.filter(repository=repository).values_list("notebook_path", flat=True)) == [
        "good.ipynb"]


def test_fault_a_write_the_database_refuses_fails_the_harvest_visibly_and_changes_nothing(git_server,
                                                                                            monkeypatch):
    name = f"repo-{next(_names)}"
    first = git_server.commit(name, {"crab.ipynb": analysis_notebook()})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")
    repository_harvest(repository_id=repository.pk)
    second = git_server.commit(name, {"crab.ipynb": analysis_notebook(parameter_default="changed"),
                                      "vela.ipynb": analysis_notebook("Vela")})

    def fake_database_refusal(workflow):  # a refusal no notebook checked at scan time can provoke
        raise DataError("FakeRefusal: value too long for type character varying(64)")

    monkeypatch.setattr(services, "_record_version", fake_database_refusal)
    repository = repository_harvest(repository_id=repository.pk)

    stored = Repository.objects.get(pk=repository.pk)
    assert (stored.status, stored.commit_sha) == ("failed", first)
    assert f"harvest of commit {second} could not be recorded" in stored.last_error
    assert "FakeRefusal" in stored.last_error
    assert [(w.notebook_path, w.commit_sha) for w in Workflow.objects.filter(repository=repository)] == [
        ("crab.ipynb", first)]


def test_fault_notebooks_that_are_symbolic_links_are_reported_not_read(git_server, tmp_path):
    on_the_worker = tmp_path / "worker-secret.ipynb"
    on_the_worker.write_text(json.dumps(analysis_notebook(title="Worker secret")))
    name = f"repo-{next(_names)}"
    git_server.commit(name, {"good.ipynb": analysis_notebook()})
    commit_symlinks(git_server, name, {"zero.ipynb": "/dev/zero", "secret.ipynb": on_the_worker})
    repository = Repository.objects.create(url=git_server.url(name), ref="main")

    repository = repository_harvest(repository_id=repository.pk)

    assert repository.status == "ok"
    problems = {p["path"]: p["problem"] for p in repository.problems}
    assert "symbolic link" in problems["zero.ipynb"] and "symbolic link" in problems["secret.ipynb"]
    assert list(Workflow.objects.filter(repository=repository).values_list("title", flat=True)) == [
        "Crab timing"]


def commit_symlinks(git_server, name: str, links: dict[str, str | Path]) -> str:
    for path, target in links.items():
        (git_server.root / name / path).symlink_to(target)
    return git_server.commit(name, {}, "add symbolic links")


@pytest.mark.parametrize("url, reason", [
    ("file:///etc", "scheme"),
    ("ssh://git@example.org/repo.git", "scheme"),
    ("ext::sh -c touch% /tmp/pwned", "scheme"),
    ("git://127.0.0.1:9418/repo", "not a public address"),
    ("http://169.254.169.254/latest", "not a public address"),
    ("https://user:secret@example.org/repo.git", "credentials"),
    ("http://example.org:99999/repo.git", "Port out of range"),
    ("http://[::1/repo.git", "Invalid IPv6 URL"),
])
def test_repository_urls_outside_the_policy_are_refused_with_the_reason(url, reason, settings, no_worker):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = False
    api = APIClient()
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/repositories/", {"url": url, "ref": "main"}, format="json")

    assert response.status_code == 400 and reason in response.json()["detail"]
    assert not Repository.objects.exists()


def test_a_ref_that_looks_like_an_option_is_refused(no_worker):
    api = APIClient()
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/repositories/", {"url": "git://127.0.0.1/x", "ref": "--upload-pack=touch"},
                        format="json")

    assert response.status_code == 400 and response.json()["error"] == "repository.bad_ref"


def test_only_operators_register_repositories(no_worker):
    api = APIClient()
    api.force_authenticate(make_user())

    assert api.post("/api/repositories/", {"url": "git://127.0.0.1/x"}, format="json").status_code == 403


def test_notebook_text_is_shown_escaped(git_server):
    repository = harvested(git_server, {"x.ipynb": analysis_notebook(title="<script>alert('t')</script>")})
    workflow = Workflow.objects.get(repository=repository)

    html = Client().get(f"/workflows/{workflow.pk}/").content.decode()

    assert "<script>alert('t')" not in html and "&lt;script&gt;" in html


@pytest.mark.django_db(transaction=True)
def test_registering_over_rest_harvests_on_the_worker_and_versions_are_listed(git_server, celery_worker):
    name = f"repo-{next(_names)}"
    sha = git_server.commit(name, {"crab.ipynb": analysis_notebook()})
    api = APIClient()
    api.force_authenticate(make_user(staff=True))

    registered = api.post("/api/repositories/", {"url": git_server.url(name), "ref": "main"}, format="json")

    assert registered.status_code == 202
    deadline = time.monotonic() + 60
    while Repository.objects.get(pk=registered.json()["id"]).status == "new" and time.monotonic() < deadline:
        time.sleep(0.1)
    body = api.get(f"/api/repositories/{registered.json()['id']}/").json()
    assert (body["status"], body["commit_sha"]) == ("ok", sha)
    versions = api.get(f"/api/workflows/{body['workflows'][0]}/versions/").json()
    assert [v["commit_sha"] for v in versions] == [sha]


def test_fault_a_server_that_never_answers_hits_the_clone_time_limit(settings):
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    settings.ESAP_GIT_TIMEOUT_SECONDS = 2
    repository = Repository.objects.create(url=f"git://127.0.0.1:{silent.getsockname()[1]}/slow", ref="main")
    started = time.monotonic()

    repository = repository_harvest(repository_id=repository.pk)

    assert repository.status == "failed" and "longer than 2 seconds" in repository.last_error
    assert time.monotonic() - started < 10
    silent.close()
