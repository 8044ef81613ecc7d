"""Writes to the catalogue of datasets and to the user's cart."""
from django.db import transaction

from esap.errors import UserError
from esap.search import index_text
from facilities.models import Facility
from facilities.selectors import facility_get, profile_get
from staging.models import Cart, CartItem, Dataset
from staging.selectors import cart_for, datasets_by_key
from staging.sources.base import DatasetRecord
from workflows.selectors import workflow_get


DESCRIBED_BY_SOURCE = ["title", "description", "size_bytes", "metadata"]


def dataset_upsert(*, record: DatasetRecord) -> Dataset:
    """The catalogue's entry for `record`: made, or brought up to what its source says now."""
    return datasets_upsert(records=[record])[0]


def datasets_upsert(*, records: list[DatasetRecord]) -> list[Dataset]:
    """The catalogue's entries for `records` (a search's results), in one statement: made, or brought up to
    what the source says now, keeping their id and first-seen date; in the records' order. Of two records
    of one dataset the later wins, as one after the other."""
    latest = {(record.source, record.identifier): record for record in records}
    # In key order, so that two searches writing the same rows at once lock them in the same order (on
    # PostgreSQL, row locks taken in different orders by two upserts are a deadlock).
    Dataset.objects.bulk_create([_indexed(latest[key]) for key in sorted(latest)], update_conflicts=True,
                                unique_fields=["source", "identifier"],
                                update_fields=[*DESCRIBED_BY_SOURCE, "search_text"])
    saved = datasets_by_key(latest)
    return [saved[(record.source, record.identifier)] for record in records]


def _indexed(record: DatasetRecord) -> Dataset:
    """The record as a new row, with the search text Searchable.save() gives (bulk_create skips save())."""
    dataset = Dataset(source=record.source, identifier=record.identifier,
                      **{name: getattr(record, name) for name in DESCRIBED_BY_SOURCE})
    dataset.search_text = index_text(dataset.search_document())
    return dataset


def locked_cart(user) -> Cart:
    """The user's cart, locked until the caller's transaction ends, so that edits and checkouts of it
    happen one after the other: of two checkouts at once (a double click) the second finds it frozen,
    and an edit made while a checkout freezes it cannot slip in after the checkout's snapshot."""
    cart_for(user=user)
    return Cart.objects.select_for_update(of=("self",)).select_related("workflow", "facility", "profile").get(
        user=user)


def _editable_cart(user) -> Cart:
    cart = locked_cart(user)
    if cart.frozen_by_id:
        raise UserError("cart.frozen")
    return cart


@transaction.atomic
def cart_add_dataset(*, user, dataset_id: int, provenance: dict | None = None) -> CartItem:
    """Raises Dataset.DoesNotExist for an unknown dataset; adding twice keeps one line (with the latest
    provenance, when one is given)."""
    cart = _editable_cart(user)
    dataset = Dataset.objects.get(pk=dataset_id)
    item, created = CartItem.objects.get_or_create(cart=cart, dataset=dataset,
                                                   defaults={"provenance": provenance or {}})
    if provenance and not created:
        item.provenance = provenance
        item.save(update_fields=["provenance"])
    return item


@transaction.atomic
def cart_remove_item(*, user, item_id: int) -> None:
    """Raises CartItem.DoesNotExist unless the line is in the user's own cart."""
    cart = _editable_cart(user)
    cart.items.get(pk=item_id).delete()


@transaction.atomic
def cart_clear_datasets(*, user) -> None:
    _editable_cart(user).items.all().delete()


@transaction.atomic
def cart_remove_dataset(*, user, dataset_id: int) -> None:
    cart = _editable_cart(user)
    cart.items.filter(dataset_id=dataset_id).delete()


@transaction.atomic
def cart_choose_workflow(*, user, workflow_id: int | None, commit_sha: str = "") -> Cart:
    """The workflow at its latest version, or pinned to the version read at `commit_sha`."""
    cart = _editable_cart(user)
    cart.workflow = workflow_get(pk=workflow_id, viewer=user) if workflow_id else None
    cart.workflow_version = None
    if cart.workflow and commit_sha:
        cart.workflow_version = cart.workflow.versions.filter(commit_sha=commit_sha).first()
        if cart.workflow_version is None:
            raise UserError("cart.unknown_version", commit=commit_sha[:40], workflow=cart.workflow.title)
    cart.save(update_fields=["workflow", "workflow_version", "updated_at"])
    return cart


@transaction.atomic
def cart_choose_facility(*, user, facility_slug: str | None, profile_slug: str = "") -> Cart:
    """Raises Facility.DoesNotExist or UserError("cart.profile_mismatch")."""
    cart = _editable_cart(user)
    if not facility_slug:
        cart.facility, cart.profile = None, None
    else:
        facility = facility_get(slug=facility_slug, viewer=user)
        cart.facility, cart.profile = facility, _profile_or_default(facility, profile_slug)
    cart.save(update_fields=["facility", "profile", "updated_at"])
    return cart


def _profile_or_default(facility: Facility, slug: str):
    if not slug:
        return facility.profiles.first()
    try:
        return profile_get(facility=facility, slug=slug)
    except facility.profiles.model.DoesNotExist:
        raise UserError("cart.profile_mismatch", profile=slug, facility=facility.slug) from None
