"""Reads of datasets, carts and checkouts. Every cart/checkout read is scoped to its owner."""
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from esap.search import full_text_search
from facilities.models import ServerProfile
from staging.models import Cart, CartItem, Checkout, CheckoutEvent, Dataset


def dataset_list(*, query: str = "", source: str = "") -> QuerySet[Dataset]:
    datasets = Dataset.objects.all()
    if source:
        datasets = datasets.filter(source=source)
    return full_text_search(datasets, query) if query else datasets


def datasets_by_key(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Dataset]:
    """The catalogue's datasets of these (source, identifier) pairs, by pair, read in one query (which the
    unique (source, identifier) index serves); a pair the catalogue lacks is left out."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = Dataset.objects.filter(source__in={source for source, _ in wanted},
                                  identifier__in={identifier for _, identifier in wanted})
    return {key: dataset for dataset in rows if (key := (dataset.source, dataset.identifier)) in wanted}


def cart_for(*, user) -> Cart:
    cart, _ = Cart.objects.select_related("workflow", "facility", "profile").get_or_create(user=user)
    return cart


def cart_items(*, cart: Cart) -> QuerySet[CartItem]:
    return cart.items.select_related("dataset")


def checkout_list(*, user) -> QuerySet[Checkout]:
    return Checkout.objects.filter(user=user)


def checkouts_named(checkouts: QuerySet[Checkout]) -> QuerySet[Checkout]:
    """With `facility_name` and `profile_name`, the names the user chose them by, while the facility and
    its profile exist; else the slugs recorded at checkout."""
    profile = ServerProfile.objects.filter(facility_id=OuterRef("facility_id"), slug=OuterRef("profile_slug"))
    return checkouts.annotate(
        facility_name=Coalesce("facility__name", "facility_slug"),
        profile_name=Coalesce(Subquery(profile.values("display_name")[:1]), "profile_slug"))


def checkout_get(*, user, pk) -> Checkout:
    """Raises Checkout.DoesNotExist for another user's checkout: it is not theirs to know about."""
    return checkout_list(user=user).get(pk=pk)


def checkout_events(*, checkout: Checkout, after: int = 0) -> QuerySet[CheckoutEvent]:
    return checkout.events.filter(pk__gt=after)


def server_stop_outcome(*, checkout_id) -> bool | None:
    """Whether the last try to stop the launch's server worked; None before any has ended."""
    last = CheckoutEvent.objects.filter(checkout_id=checkout_id, data__has_key="server_stopped").last()
    return None if last is None else bool(last.data["server_stopped"])


def server_stop_failed(*, checkout: Checkout) -> bool:
    """Whether the last try to stop the launch's server failed (so it may still run: stop again)."""
    return server_stop_outcome(checkout_id=checkout.pk) is False


def live_launches_on(*, facility) -> QuerySet[Checkout]:
    """Launches that may still hold a server on the facility: under way or ready; failed once their server
    was asked for (a failed launch keeps its server for a retry until it is cancelled); cancelled or stopped
    whose last stop failed. Only the facility's hub and token can stop those servers, so the facility must
    not be deleted under them."""
    from staging.checkout.states import SERVER_TO_STOP, STEPS, State

    last_stop = (CheckoutEvent.objects.filter(checkout=OuterRef("pk"), data__has_key="server_stopped")
                 .order_by("-pk").values("pk")[:1])
    stop_failed = Exists(CheckoutEvent.objects.filter(pk=OuterRef("last_stop"), data__server_stopped=False))
    may_hold_server = (Q(state__in=[State.CREATED, *STEPS, State.READY])
                       | Q(state=State.FAILED) & ~Q(server_name="")
                       | Q(state__in=SERVER_TO_STOP) & ~Q(server_name="") & stop_failed)
    launches = Checkout.objects.filter(facility=facility).annotate(last_stop=Subquery(last_stop))
    return launches.filter(may_hold_server)
