"""Launch links: a shareable URL that pre-fills a cart (workflow pinned to a commit, datasets, facility and
profile), like a Binder badge. Opening one asks the user to confirm; it never launches by itself."""
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db import transaction
from django.http import QueryDict

from esap.errors import UserError
from facilities.models import Facility, ServerProfile
from facilities.selectors import facility_get
from staging import services
from staging.models import Checkout, Dataset
from staging.selectors import datasets_by_key
from workflows.models import Workflow, WorkflowVersion
from workflows.selectors import workflow_list

MAX_DATASETS = 100
# What a cart line adds to its dataset's metadata in a checkout's snapshot (the user's VO search: query,
# service and its DataLink service, see staging.vo_services.vo_cart_add): carried into the cart again when
# the user launches that checkout again.
PROVENANCE_KEYS = ("query", "service_url", "service_name", "datalink_url")


@dataclass(frozen=True)
class LaunchRequest:
    workflow: Workflow
    version: WorkflowVersion | None
    datasets: list[Dataset]
    facility: Facility | None
    profile: ServerProfile | None
    # dataset pk -> how the user found it, when the link is a receipt's of the user's own checkout
    provenance: dict[int, dict] = field(default_factory=dict)


def launch_link_query(*, workflow_slug: str, commit: str, datasets: list[dict], facility: str,
                      profile: str, checkout: str = "") -> str:
    pairs = [("workflow", workflow_slug), ("commit", commit)]
    pairs += [("dataset", f"{d['source']}:{d['identifier']}") for d in datasets]
    pairs += [("facility", facility), ("profile", profile), ("checkout", checkout)]
    return urlencode([(key, value) for key, value in pairs if value])


def launch_link_for_checkout(checkout: Checkout) -> str:
    """Names the checkout too: its owner's relaunch gets their queries back (see _provenance); for anyone
    else the link works the same without them."""
    return "/launch/?" + launch_link_query(
        workflow_slug=checkout.workflow.slug if checkout.workflow else "", commit=checkout.workflow_commit,
        datasets=checkout.datasets, facility=checkout.facility_slug, profile=checkout.profile_slug,
        checkout=str(checkout.pk))


def launch_again_problem(checkout: Checkout, *, user) -> str:
    """Why the checkout's launch link would be refused to `user` (its workflow, a dataset or its facility
    is gone or hidden), or "" when it would open."""
    if checkout.workflow is None:
        return f"its workflow {checkout.workflow_title!r} has been deleted"
    link = launch_link_for_checkout(checkout)
    try:
        launch_link_parse(params=QueryDict(link.partition("?")[2]), user=user)
    except UserError as error:
        return str(error.params.get("detail") or error.message)
    return ""


def launch_link_parse(*, params: QueryDict, user) -> LaunchRequest:
    """Everything the link names, looked up as this user may see it; UserError naming what is wrong."""
    workflow = _workflow(params.get("workflow", ""), user)
    commit = params.get("commit", "")
    version = workflow.versions.filter(commit_sha=commit).first() if commit else None
    if commit and version is None:
        raise UserError("launch_link.invalid", detail=f"workflow {workflow.title!r} has no version at {commit[:40]}")
    facility, profile = _facility_and_profile(params.get("facility", ""), params.get("profile", ""), user)
    datasets = _datasets(params.getlist("dataset"))
    return LaunchRequest(workflow, version, datasets, facility, profile,
                         _provenance(params.get("checkout", ""), datasets, user))


@transaction.atomic
def cart_fill_from_link(*, user, request: LaunchRequest, replace: bool = True) -> None:
    """The link's workflow, facility (if it names one) and datasets into the cart; `replace`: instead of
    the datasets already there, so that launching again from a receipt launches the same thing."""
    if replace:
        services.cart_clear_datasets(user=user)
    services.cart_choose_workflow(user=user, workflow_id=request.workflow.pk,
                                  commit_sha=request.version.commit_sha if request.version else "")
    if request.facility:
        services.cart_choose_facility(user=user, facility_slug=request.facility.slug,
                                      profile_slug=request.profile.slug if request.profile else "")
    for dataset in request.datasets:
        services.cart_add_dataset(user=user, dataset_id=dataset.pk,
                                  provenance=request.provenance.get(dataset.pk))


def _workflow(slug: str, user) -> Workflow:
    workflow = workflow_list(viewer=user).filter(slug=slug).first() if slug else None
    if workflow is None:
        raise UserError("launch_link.invalid", detail=f"no workflow {slug!r}")
    return workflow


def _facility_and_profile(slug: str, profile_slug: str, user) -> tuple[Facility | None, ServerProfile | None]:
    if not slug:
        return None, None
    try:
        facility = facility_get(slug=slug, viewer=user)
    except Facility.DoesNotExist:
        raise UserError("launch_link.invalid", detail=f"no facility {slug!r}") from None
    profile = facility.profiles.filter(slug=profile_slug).first() if profile_slug else facility.profiles.first()
    if profile_slug and profile is None:
        raise UserError("launch_link.invalid", detail=f"facility {slug!r} has no profile {profile_slug!r}")
    return facility, profile


def _provenance(checkout_id: str, datasets: list[Dataset], user) -> dict[int, dict]:
    """How the user found each dataset for the checkout `checkout_id`, if it is theirs (else nothing: a
    shared receipt link does not hand one user's queries to another)."""
    try:
        checkout = Checkout.objects.filter(pk=uuid.UUID(checkout_id), user=user).first()
    except ValueError:
        checkout = None
    if checkout is None:
        return {}
    found = {(d["source"], d["identifier"]): d.get("metadata", {}) for d in checkout.datasets}
    provenance = {}
    for dataset in datasets:
        metadata = found.get((dataset.source, dataset.identifier), {})
        kept = {key: metadata[key] for key in PROVENANCE_KEYS if key in metadata}
        if kept:
            provenance[dataset.pk] = kept
    return provenance


def _datasets(references: list[str]) -> list[Dataset]:
    if len(references) > MAX_DATASETS:
        raise UserError("launch_link.invalid", detail=f"more than {MAX_DATASETS} datasets")
    keys = [_dataset_key(reference) for reference in references]
    found = datasets_by_key(keys)
    for reference, key in zip(references, keys):
        if key not in found:
            raise UserError("launch_link.invalid", detail=f"no dataset {reference[:200]!r}")
    return [found[key] for key in keys]


def _dataset_key(reference: str) -> tuple[str, str]:
    source, _, identifier = reference.partition(":")
    return source, identifier
