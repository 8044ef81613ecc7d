"""Writes to the workflow catalogue: notebooks read into workflows, repositories harvested into versions."""
import hashlib
import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from esap.errors import UserError
from esap.http import check_outbound_url, vetted_addresses
from workflows.harvest import git
from workflows.harvest.notebooks import NotebookInfo, read_notebook_info
from workflows.harvest.scan import FoundNotebook, ScanResult, scan_repository
from workflows.models import Repository, Workflow, WorkflowVersion

log = logging.getLogger(__name__)


def workflow_create_from_notebook(*, notebook: dict[str, Any], notebook_path: str, repository_url: str = "",
                                  ref: str = "", commit_sha: str = "", keywords: str = "",
                                  first_cells: int | None = None, slug: str = "") -> Workflow:
    """A catalogue entry whose title, description, kernel and parameters are read from the notebook."""
    workflow = Workflow(repository_url=repository_url, ref=ref, keywords=keywords, first_cells=first_cells,
                        notebook_path=notebook_path)
    _apply_notebook(workflow, notebook, read_notebook_info(notebook), commit_sha)
    workflow.slug = slug or _unique_slug(workflow.title)
    workflow.full_clean()
    workflow.save()
    _record_version(workflow)
    return workflow


def _apply_notebook(workflow: Workflow, notebook: dict, info: NotebookInfo, commit_sha: str) -> None:
    workflow.title = (info.title or workflow.notebook_path.rsplit("/", 1)[-1].removesuffix(".ipynb"))[:300]
    workflow.description = info.description or ""
    workflow.kernel_name = info.kernel_name
    workflow.parameters = [asdict(parameter) for parameter in info.parameters]
    workflow.notebook = notebook
    workflow.commit_sha = commit_sha


def _record_version(workflow: Workflow) -> WorkflowVersion:
    """The workflow as read at its commit; content seen at an earlier commit (a revert) is a version again."""
    version, _ = WorkflowVersion.objects.get_or_create(
        workflow=workflow, commit_sha=workflow.commit_sha, content_hash=notebook_hash(workflow.notebook),
        defaults={"title": workflow.title, "kernel_name": workflow.kernel_name,
                  "parameters": workflow.parameters, "notebook": workflow.notebook},
    )
    return version


def notebook_hash(notebook: dict) -> str:
    return hashlib.sha256(json.dumps(notebook, sort_keys=True).encode()).hexdigest()


def _unique_slug(title: str) -> str:
    base = slugify(title)[:140] or "workflow"
    slug, counter = base, 2
    while Workflow.objects.filter(slug=slug).exists():
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def git_url_clean(url: str) -> str:
    """A repository URL the harvester may fetch: allowed schemes only, no private targets unless allowed."""
    return check_outbound_url(url.strip(), **_git_url_policy())


def _git_url_policy() -> dict[str, Any]:
    return {"allow_private": settings.ESAP_GIT_ALLOW_PRIVATE_URLS, "schemes": frozenset(settings.ESAP_GIT_SCHEMES)}


def git_url_pin(url: str) -> git.Pin | None:
    """Vet the repository URL as git_url_clean does, resolving its host once, and return the pin that keeps
    git's HTTP(S) transport on the addresses vetted (git would otherwise resolve the name again, and a
    name can answer a public address now and an internal one a moment later: DNS rebinding). None when
    private addresses are allowed, and for git:// (git resolves such a host itself, past any pin)."""
    return git.pin_for(url, vetted_addresses(url, **_git_url_policy()))


def ref_clean(ref: str) -> str:
    """A ref git reads as a ref (branch, tag or SHA): one starting with '-' would reach git as an option."""
    if not ref.strip() or ref.startswith("-") or any(c.isspace() for c in ref):
        raise UserError("repository.bad_ref", ref=ref)
    return ref


@transaction.atomic
def repository_register(*, url: str, ref: str = "main", is_public: bool | None = None) -> Repository:
    """Register a repository and harvest it once the row is committed. Registering one already known (same
    URL and ref) harvests it again and, when is_public is given, sets its visibility and its workflows'."""
    repository, created = Repository.objects.select_for_update().get_or_create(
        url=git_url_clean(url), ref=ref_clean(ref), defaults={"is_public": is_public is not False})
    if created or is_public is None or is_public == repository.is_public:
        repository_enqueue_harvest(repository=repository)
        return repository
    repository.is_public = is_public
    return repository_save(repository=repository)


@transaction.atomic
def repository_save(*, repository: Repository) -> Repository:
    """An operator's edit: its workflows follow it at once (visibility, URL), and it is harvested again."""
    repository.full_clean()
    repository.save()
    _workflows_follow(repository)
    repository_enqueue_harvest(repository=repository)
    return repository


def _workflows_follow(repository: Repository) -> None:
    """A harvested workflow is visible to whom its repository is, whatever it was when first harvested."""
    Workflow.objects.filter(repository=repository).update(is_public=repository.is_public,
                                                          repository_url=repository.url)


def repository_enqueue_harvest(*, repository: Repository) -> None:
    from workflows.tasks import repository_harvest_task

    transaction.on_commit(lambda: repository_harvest_task.delay(repository.pk))


def repository_harvest(*, repository_id: int) -> Repository:
    """Fetch the ref, read every notebook, and update the catalogue; a failure is recorded, not raised."""
    harvest = _harvest_start(repository_id)
    with tempfile.TemporaryDirectory(prefix="esap-harvest-") as folder:
        try:
            pin = git_url_pin(harvest.url)
            sha = git.fetch_commit(harvest.url, harvest.ref, Path(folder) / "repo", _limits(), pin=pin)
            scan = _storable(scan_repository(Path(folder) / "repo"))
        except (git.HarvestError, UserError) as error:
            return _record_failure(harvest, getattr(error, "message", None) or str(error))
    try:
        return _record_harvest(harvest, sha, scan)
    except Exception as error:  # noqa: BLE001 - else the task dies and the repository says nothing went wrong
        log.exception("the harvest of %s at %s could not be recorded", harvest.url, sha)
        reason = f"{type(error).__name__}: {_first_line(error)}"
        return _record_failure(harvest, f"the harvest of commit {sha} could not be recorded ({reason}); "
                                        "nothing was changed")


@dataclass(frozen=True)
class _Harvest:
    """One run: its number among the repository's harvests, taken before it fetches, and what it fetched."""
    repository_id: int
    number: int
    url: str
    ref: str


@transaction.atomic
def _harvest_start(repository_id: int) -> _Harvest:
    repository = Repository.objects.select_for_update().get(pk=repository_id)
    repository.harvests_started += 1
    repository.save(update_fields=["harvests_started"])
    return _Harvest(repository.pk, repository.harvests_started, repository.url, repository.ref)


def _storable(scan: ScanResult) -> ScanResult:
    """The scan without the notebooks the database cannot hold, each reported as a problem instead:
    PostgreSQL refuses a NUL character and an over-long value (SQLite stores them), and one refused row
    would undo the whole harvest."""
    storable = ScanResult(problems=[_printable(problem) for problem in scan.problems],
                          environment=scan.environment)
    for found in scan.notebooks:
        problem = _unstorable(found)
        if problem:
            storable.problems.append({"path": found.path, "problem": problem})
        else:
            storable.notebooks.append(found)
    return storable


def _unstorable(found: FoundNotebook) -> str:
    for field, value in (("path", found.path), ("kernel name", found.info.kernel_name)):
        limit = Workflow._meta.get_field(_FIELDS[field]).max_length
        if len(value) > limit:
            return f"its {field} is longer than {limit} characters"
    if any("\x00" in text for text in _strings(found.notebook, asdict(found.info))):
        return ("it holds a NUL character (\\u0000, in a cell, an output or a parameter's value), which "
                "the catalogue cannot store")
    return ""


_FIELDS = {"path": "notebook_path", "kernel name": "kernel_name"}


def _strings(*values: Any) -> Iterator[str]:
    """Every string in JSON-like values, keys included (no recursion: the nesting is the repository's)."""
    pending = list(values)
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, (list, tuple)):
            pending += value


def _printable(problem: dict) -> dict:
    return {key: str(value).replace("\x00", "\\x00") for key, value in problem.items()}


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]


@transaction.atomic
def _record_harvest(harvest: _Harvest, sha: str, scan: ScanResult) -> Repository:
    # Harvests of one repository write one after the other (a row lock; SQLite's write lock serialises them
    # anyway): the beat re-queues a repository still being harvested and operators may queue it again, and
    # the later run must see the earlier one's workflows rather than create them a second time.
    repository = Repository.objects.select_for_update().get(pk=harvest.repository_id)
    if _superseded(repository, harvest):
        return repository
    _workflows_follow(repository)
    for found in scan.notebooks:
        _upsert_workflow(repository, found, sha, scan.environment)
    _withdraw_gone(repository, {found.path for found in scan.notebooks} | {p["path"] for p in scan.problems})
    repository.status, repository.commit_sha, repository.last_error = Repository.Status.OK, sha, ""
    repository.problems, repository.environment = scan.problems, scan.environment
    repository.harvested_at, repository.harvest_recorded = timezone.now(), harvest.number
    repository.save(update_fields=["status", "commit_sha", "last_error", "problems", "environment",
                                   "harvested_at", "harvest_recorded"])
    log.info("harvested %s: %d notebooks, %d problems", repository, len(scan.notebooks), len(scan.problems))
    return repository


@transaction.atomic
def _record_failure(harvest: _Harvest, message: str) -> Repository:
    repository = Repository.objects.select_for_update().get(pk=harvest.repository_id)
    if _superseded(repository, harvest):
        return repository
    repository.status, repository.last_error, repository.harvested_at = (
        Repository.Status.FAILED, message.replace("\x00", "\\x00")[:2000], timezone.now())
    repository.harvest_recorded = harvest.number
    repository.save(update_fields=["status", "last_error", "harvested_at", "harvest_recorded"])
    return repository


def _superseded(repository: Repository, harvest: _Harvest) -> bool:
    """A harvest that started before the last recorded one, or fetched a URL or ref the repository no longer
    has, would undo newer content: it is dropped (the newer harvest, or the one the edit queued, counts)."""
    superseded = (harvest.number <= repository.harvest_recorded
                  or (harvest.url, harvest.ref) != (repository.url, repository.ref))
    if superseded:
        log.info("dropped harvest %d of %s: a newer one was recorded or the repository changed meanwhile",
                 harvest.number, repository)
    return superseded


def _upsert_workflow(repository: Repository, found: FoundNotebook, sha: str, environment: list[str]) -> None:
    workflow = Workflow.objects.filter(repository=repository, notebook_path=found.path).first() or Workflow(
        repository=repository, notebook_path=found.path, repository_url=repository.url,
        is_public=repository.is_public)
    unchanged = workflow.pk is not None and notebook_hash(workflow.notebook) == notebook_hash(found.notebook)
    current = (repository.ref, environment, None)
    if unchanged and (workflow.ref, workflow.environment, workflow.withdrawn_at) == current:
        return
    workflow.ref, workflow.environment, workflow.withdrawn_at = current
    if unchanged:  # it stays pinned to the commit it was read at
        workflow.save(update_fields=["ref", "environment", "withdrawn_at", "updated_at"])
        return
    _apply_notebook(workflow, found.notebook, found.info, sha)
    _save_with_a_unique_slug(workflow)
    _record_version(workflow)


def _withdraw_gone(repository: Repository, present: set[str]) -> None:
    """A notebook the ref no longer has (deleted, renamed, or absent at a new ref) is withdrawn: no longer
    listed nor launchable, its versions kept for past launches. One still there but unreadable is not."""
    listed = Workflow.objects.filter(repository=repository, withdrawn_at__isnull=True)
    gone = [pk for pk, path in listed.values_list("pk", "notebook_path") if path not in present]
    Workflow.objects.filter(pk__in=gone).update(withdrawn_at=timezone.now())


def _save_with_a_unique_slug(workflow: Workflow, attempts: int = 5) -> None:
    """A harvest of another repository may take the same slug between our look and our insert (two
    notebooks of one title, harvested at once): the insert then fails alone and the next free slug is tried."""
    if workflow.slug:
        workflow.save()
        return
    for attempt in range(attempts):
        workflow.slug = _unique_slug(workflow.title)
        try:
            with transaction.atomic():  # a savepoint: the harvest's own transaction goes on
                workflow.save()
            return
        except IntegrityError:
            workflow.pk = None
            if attempt + 1 == attempts:
                raise


def _limits() -> git.CloneLimits:
    return git.CloneLimits(max_bytes=settings.ESAP_GIT_MAX_BYTES, max_files=settings.ESAP_GIT_MAX_FILES,
                           timeout_seconds=settings.ESAP_GIT_TIMEOUT_SECONDS)
