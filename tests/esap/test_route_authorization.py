"""Every route of the portal, classified by who may reach it, and each class proven route by route.

- public: anyone, anonymous included.
- login: the signed-in user's own things, addressed without an id (their cart, their list of launches);
  anonymous pages go to the login page, anonymous API calls get a 401.
- per-object: the path names an object of one user (a launch, a cart line, an API token) or one limited
  to groups (a facility, a workflow). Another user (by session, or by their API token), or anonymous,
  gets the very answer an id that does not exist gets (a 404: nothing says the object exists), sees
  nothing of it and changes nothing of it; its owner, asked the same, is served.
- operator: staff only.

A route added later fails test_every_route_is_classified until it is classified here, and, if it names
an object, test_every_per_object_route_has_its_case until the cross-user case below covers it. Login
routes whose input (not their path) names a facility or workflow limited to groups are held to the same
answer as for a name that does not exist (the last section).
Django's admin, allauth's /accounts/ pages and static files have authorization of their own."""
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter
from rest_framework.test import APIClient

from esap.models import AccountSettings, ApiToken
from facilities.models import Facility
from staging.checkout.states import State
from staging.models import Cart, CartItem, Checkout, CheckoutEvent
from staging.selectors import cart_for
from tests.factories import make_workflow
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

PUBLIC, LOGIN, PER_OBJECT, OPERATOR = "public", "login", "per-object", "operator"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
NOT_THE_PORTALS = ("admin/", "accounts/", "static/")

ROUTES = {
    # pages
    "home": PUBLIC,
    "facility-list": PUBLIC,
    "facility-detail": PER_OBJECT,
    "workflow-list": PUBLIC,
    "workflow-detail": PER_OBJECT,
    "dataset-list": PUBLIC,
    "datalake-search": LOGIN,
    "cart": LOGIN,
    "cart-add": LOGIN,
    "cart-remove": PER_OBJECT,
    "cart-workflow": LOGIN,
    "cart-facility": LOGIN,
    "cart-checkout": LOGIN,
    "checkout-list": LOGIN,
    "checkout-detail": PER_OBJECT,
    "checkout-receipt": PER_OBJECT,
    "checkout-stream": PER_OBJECT,
    "checkout-retry": PER_OBJECT,
    "checkout-cancel": PER_OBJECT,
    "checkout-stop": PER_OBJECT,
    "checkout-notebook": PER_OBJECT,
    "launch-link": LOGIN,
    "vo-search": PUBLIC,
    "vo-cart-add": LOGIN,
    "account-tokens": LOGIN,
    "account-token-revoke": PER_OBJECT,
    "account-settings": LOGIN,
    "metrics": OPERATOR,  # staff's session; a scraper's ESAP_METRICS_TOKEN (tests/esap/test_metrics.py)
    # REST API
    "api-facility-list": PUBLIC,
    "api-facility-create": OPERATOR,
    "api-facility-detail": PER_OBJECT,
    "api-workflow-list": PUBLIC,
    "api-workflow-detail": PER_OBJECT,
    "api-workflow-versions": PER_OBJECT,
    "api-repository-list": OPERATOR,
    "api-repository-detail": OPERATOR,
    "api-repository-harvest": OPERATOR,
    "api-dataset-list": PUBLIC,
    "api-dataset-detail": PUBLIC,
    "api-datalake-list": LOGIN,
    "api-datalake-search": LOGIN,
    "api-cart": LOGIN,
    "api-cart-item-add": LOGIN,
    "api-cart-item-delete": PER_OBJECT,
    "api-cart-workflow": LOGIN,
    "api-cart-facility": LOGIN,
    "api-checkout-list": LOGIN,
    "api-checkout-detail": PER_OBJECT,
    "api-checkout-events": PER_OBJECT,
    "api-checkout-retry": PER_OBJECT,
    "api-checkout-cancel": PER_OBJECT,
    "api-checkout-stop": PER_OBJECT,
    "api-vo-service-list": PUBLIC,
    "api-vo-search": PUBLIC,
    "api-vo-cart-add": LOGIN,
    "api-vo-registry": PUBLIC,
    "api-token-list": LOGIN,
    "api-token-revoke": PER_OBJECT,
    "api-schema": PUBLIC,
    "api-docs": PUBLIC,
    "api-not-found": PUBLIC,
}

# Routes whose path names something that is nobody's and everyone's alike: why they are not per-object.
SHARED_OBJECTS = {
    "api-dataset-detail": "the dataset catalogue is public",
    "api-datalake-search": "a data lake is the portal's; what it finds enters the public catalogue",
    "api-vo-search": "a VO service is the portal's, searched by anyone",
    "api-vo-registry": "a VO registry is the portal's, searched by anyone",
    "api-vo-cart-add": "a VO service is the portal's; the cart line made is the caller's own",
    "api-not-found": "the catch-all names no object",
}


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    callback: Callable
    kwargs: dict[str, object]  # each path argument's converter (None for a regular expression's group)

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def view_class(self) -> type | None:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    def methods(self) -> list[str]:
        """A class-based view's own methods; a function view is asked with GET and POST (its login and
        method checks answer the others)."""
        if self.view_class is None:
            return ["get", "post"]
        return [method for method in HTTP_METHODS if hasattr(self.view_class, method)]


def _walk(resolver: URLResolver, prefix: str = "", kwargs: dict | None = None) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        converters = getattr(entry.pattern, "converters", {})
        found = {**(kwargs or {}), **{name: converters.get(name) for name in entry.pattern.regex.groupindex}}
        if isinstance(entry, URLResolver):
            yield from _walk(entry, pattern, found)
        else:
            yield Route(entry.name or pattern, pattern, entry.callback, found)


def portal_routes() -> list[Route]:
    return [route for route in _walk(get_resolver()) if not route.pattern.startswith(NOT_THE_PORTALS)]


ROUTES_BY_NAME = {route.name: route for route in portal_routes()}


def unknown_value(converter) -> str:
    if isinstance(converter, UUIDConverter):
        return str(uuid.UUID(int=0xDEADBEEF))
    if isinstance(converter, IntConverter):
        return "987654321"
    return "no-such-thing"


def path_of(route: Route, value: str | None = None) -> str:
    """The route's path for `value` (its one argument), or for ids that name nothing."""
    if value is not None:
        (kwarg,) = route.kwargs
        return reverse(route.name, kwargs={kwarg: value})
    return reverse(route.name, kwargs={name: unknown_value(conv) for name, conv in route.kwargs.items()})


def named(kind: str) -> list[str]:
    return sorted(name for name, access in ROUTES.items() if access == kind)


# ---- the inventory -----------------------------------------------------------------------------------


def test_every_route_is_classified():
    resolved = set(ROUTES_BY_NAME)
    unclassified, gone = resolved - set(ROUTES), set(ROUTES) - resolved

    assert not unclassified, f"routes nobody classified: add them to ROUTES: {unclassified}"
    assert not gone, f"ROUTES names routes that are gone: {gone}"


def test_every_route_has_a_name_of_its_own():
    names = [route.name for route in portal_routes()]

    assert len(names) == len(set(names))


def test_a_route_that_names_an_object_is_per_object_unless_the_object_is_shared():
    naming = {name for name, route in ROUTES_BY_NAME.items() if route.kwargs}
    not_per_object = {name for name in naming if ROUTES.get(name) not in (PER_OBJECT, OPERATOR)}

    assert not_per_object == set(SHARED_OBJECTS)
    assert not {name for name, access in ROUTES.items() if access == PER_OBJECT} - naming



# ---- public, login, operator -------------------------------------------------------------------------


@pytest.mark.parametrize("name", named(PUBLIC))
def test_a_public_route_answers_anonymous(client, name):
    response = client.get(path_of(ROUTES_BY_NAME[name]))

    assert response.status_code in (200, 404), response.status_code  # 404: the sample id names nothing
    assert not response.headers.get("Location", "").startswith(settings.LOGIN_URL)


def _sent_to_log_in(response, path: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"{settings.LOGIN_URL}?next={quote(path)}"


@pytest.mark.parametrize("name, method", [(name, method) for name in named(LOGIN)
                                          for method in ROUTES_BY_NAME[name].methods()])
def test_a_login_route_sends_anonymous_to_log_in(name, method):
    route = ROUTES_BY_NAME[name]
    path = path_of(route)

    if route.is_api:
        response = getattr(APIClient(), method)(path, {}, format="json")
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
    else:
        assert _sent_to_log_in(getattr(Client(), method)(path), path)


@pytest.mark.parametrize("name, method", [(name, method) for name in named(OPERATOR)
                                          for method in ROUTES_BY_NAME[name].methods()])
def test_an_operator_route_refuses_anyone_else(world, name, method):
    route = ROUTES_BY_NAME[name]
    path = path_of(route)

    # The one operator page, /metrics, refuses anonymous with a 403 too (no login page for a scraper).
    assert getattr(APIClient(), method)(path, {}, format="json").status_code == (401 if route.is_api else 403)
    for intruder in ("other", "wrong_group", "owner"):
        for client in (session_api(world, intruder), token_api(world, intruder)):
            assert getattr(client, method)(path, {}, format="json").status_code == 403


# ---- per-object: the cross-user cases -----------------------------------------------------------------

MARKS = {  # what of the owner's would show, set on their things below
    "server_name": "owners-server-4b1d",
    "lab_url": "http://hub.example/user/owners-lab-4b1d/",
    "error_message": "owners-failure-4b1d",
    "provenance": "owners-vo-query-4b1d",
    "token_name": "owners-token-4b1d",
}


@dataclass(frozen=True)
class Case:
    """A per-object route: the object its path names, and what the owner gets for `method`."""

    thing: str  # "checkout", "item", "token", "facility" or "workflow"
    method: str
    owner_status: int
    checkout_state: State = State.CREATED  # a state in which the owner's request would act
    owner_changes: bool = False
    # A form post whose refusal reads "gone already" (a second click, another tab) for a missing id and
    # another user's alike: a redirect back with that message, not a 404, and no id is revealed either.
    refused_with: int = 404


CASES = {
    "facility-detail": Case("facility", "get", 200),
    "workflow-detail": Case("workflow", "get", 200),
    "cart-remove": Case("item", "post", 302, owner_changes=True, refused_with=302),
    "checkout-detail": Case("checkout", "get", 200),
    "checkout-receipt": Case("checkout", "get", 200),
    "checkout-stream": Case("checkout", "get", 200),
    "checkout-retry": Case("checkout", "post", 302, State.FAILED, owner_changes=True),
    "checkout-cancel": Case("checkout", "post", 302, owner_changes=True),
    "checkout-stop": Case("checkout", "post", 302, State.READY, owner_changes=True),
    "checkout-notebook": Case("checkout", "get", 302),  # not ready: back to its page, saying so
    "account-token-revoke": Case("token", "post", 302, owner_changes=True, refused_with=302),
    "api-facility-detail": Case("facility", "get", 200),
    "api-workflow-detail": Case("workflow", "get", 200),
    "api-workflow-versions": Case("workflow", "get", 200),
    "api-cart-item-delete": Case("item", "delete", 204, owner_changes=True),
    "api-checkout-detail": Case("checkout", "get", 200),
    "api-checkout-events": Case("checkout", "get", 200),
    "api-checkout-retry": Case("checkout", "post", 202, State.FAILED, owner_changes=True),
    "api-checkout-cancel": Case("checkout", "post", 200, owner_changes=True),
    "api-checkout-stop": Case("checkout", "post", 202, State.READY, owner_changes=True),
    "api-token-revoke": Case("token", "delete", 204, owner_changes=True),
}
LIMITED_TO_GROUPS = {"facility", "workflow"}  # shown to anyone allowed, signed in or not: no login needed
INTRUDERS = ("other", "wrong_group")


def test_every_per_object_route_has_its_case():
    assert set(CASES) == set(named(PER_OBJECT))


def test_each_case_asks_with_a_method_of_its_route():
    for name, case in CASES.items():
        assert case.method in ROUTES_BY_NAME[name].methods(), name


@pytest.fixture
def owned(world):
    """The owner's things, each with something of theirs that must not show: their launch (its server and
    failure), a cart line found by their VO query (the cart not frozen, so the line could be removed), and
    an API token of theirs."""
    owner = world["users"]["owner"]
    Checkout.objects.filter(pk=world["checkout"].pk).update(
        server_name=MARKS["server_name"], lab_url=MARKS["lab_url"], error_message=MARKS["error_message"],
        failed_step=State.SPAWNING)
    CartItem.objects.filter(pk=world["item"].pk).update(
        provenance={"query": {"keywords": MARKS["provenance"]}})
    Cart.objects.filter(user=owner).update(frozen_by=None)
    token, _ = ApiToken.issue(user=owner, name=MARKS["token_name"])
    for intruder in INTRUDERS:
        world[f"{intruder}_secret"] = ApiToken.issue(user=world["users"][intruder], name="theirs")[1]
    return {"checkout": str(world["checkout"].pk), "item": str(world["item"].pk), "token": str(token.pk),
            "facility": world["facility"].slug, "workflow": str(world["workflow"].pk),
            "marks": [*MARKS.values(), token.hint, world["facility"].name, world["workflow"].title]}


def owners_things(world) -> dict[str, list]:
    owner = world["users"]["owner"]
    return {
        "checkouts": list(Checkout.objects.filter(user=owner).order_by("pk").values()),
        "events": list(CheckoutEvent.objects.filter(checkout__user=owner).order_by("pk").values()),
        "cart": list(Cart.objects.filter(user=owner).values()),
        "items": list(CartItem.objects.filter(cart__user=owner).order_by("pk").values()),
        "tokens": list(ApiToken.objects.filter(user=owner).order_by("pk").values()),
        "settings": list(AccountSettings.objects.filter(user=owner).values()),
        "facility": [Facility.objects.filter(pk=world["facility"].pk).values().get(),
                     sorted(world["facility"].groups.values_list("pk", flat=True))],
        "workflow": [Workflow.objects.filter(pk=world["workflow"].pk).values().get(),
                     sorted(world["workflow"].groups.values_list("pk", flat=True))],
    }


def session_api(world, role: str) -> APIClient:
    client = APIClient()
    client.force_login(world["users"][role])
    return client


def token_api(world, role: str) -> APIClient:
    client = APIClient()
    secret = world["api_secret"] if role == "owner" else world.get(f"{role}_secret")
    if secret is None:
        secret = ApiToken.issue(user=world["users"][role], name="theirs")[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def page_client(world, role: str) -> Client:
    client = Client()
    client.force_login(world["users"][role])
    return client


@dataclass
class Answer:
    status: int
    location: str
    body: str
    messages: list[str] = field(default_factory=list)


def ask(client, method: str, path: str) -> Answer:
    """The answer, with the path it was asked at (and the form's CSRF token) written out of it."""
    response = getattr(client, method)(path)
    body = "" if response.streaming else response.content.decode()  # an open stream is not read
    return Answer(response.status_code, _without(response.headers.get("Location", ""), path),
                  _without(body, path), [str(message) for message in get_messages(response.wsgi_request)])


def _without(text: str, path: str) -> str:
    text = text.replace(path, "<path>").replace(quote(path), "<path>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', text)


def intruders(world, route: Route) -> dict[str, Callable[[], object]]:
    """Everyone who must not reach the owner's object: other users by session, and on the API by their
    API tokens too; and anonymous."""
    found = {"anonymous": Client}
    for role in INTRUDERS:
        if route.is_api:
            found[f"{role} (session)"] = lambda role=role: session_api(world, role)
            found[f"{role} (API token)"] = lambda role=role: token_api(world, role)
        else:
            found[role] = lambda role=role: page_client(world, role)
    return found


def expected_for(who: str, route: Route, case: Case, method: str) -> Callable[[Answer], bool]:
    if who == "anonymous" and case.thing not in LIMITED_TO_GROUPS:
        return (lambda answer: answer.status == 401) if route.is_api else (
            lambda answer: answer.status == 302 and answer.location.startswith(f"{settings.LOGIN_URL}?next="))
    allowed = {case.refused_with} if method == case.method else {case.refused_with, 405}
    return lambda answer: answer.status in allowed


def _set_checkout_state(world, state: State) -> None:
    Checkout.objects.filter(pk=world["checkout"].pk).update(state=state)


@pytest.mark.parametrize("name", sorted(CASES))
def test_another_users_object_is_answered_as_one_that_does_not_exist(world, owned, name):
    route, case = ROUTES_BY_NAME[name], CASES[name]
    _set_checkout_state(world, case.checkout_state)
    path, unknown_path = path_of(route, owned[case.thing]), path_of(route)
    methods = route.methods() if route.view_class else sorted({"get", "post", case.method})
    before = owners_things(world)

    for who, make_client in intruders(world, route).items():
        for method in methods:
            answer = ask(make_client(), method, path)
            unknown = ask(make_client(), method, unknown_path)

            assert answer == unknown, (who, method)
            assert expected_for(who, route, case, method)(answer), (who, method, answer.status)
            assert not [mark for mark in owned["marks"] if mark in answer.body + " ".join(answer.messages)]
            assert owners_things(world) == before, (who, method)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_owner_is_served_where_others_are_not(world, owned, name):
    """The control of the test above: the same request of the owner reaches the object, so the
    refusals there are the route's checks, not a request that would have failed anyway."""
    route, case = ROUTES_BY_NAME[name], CASES[name]
    _set_checkout_state(world, case.checkout_state)
    before = owners_things(world)
    client = session_api(world, "owner") if route.is_api else page_client(world, "owner")

    answer = ask(client, case.method, path_of(route, owned[case.thing]))

    assert answer.status == case.owner_status, answer.body[:300]
    assert (owners_things(world) != before) is case.owner_changes


@pytest.mark.parametrize("name", sorted(name for name in CASES if ROUTES_BY_NAME[name].is_api))
def test_the_owners_api_token_reaches_what_their_session_does(world, owned, name):
    route, case = ROUTES_BY_NAME[name], CASES[name]
    _set_checkout_state(world, case.checkout_state)

    answer = ask(token_api(world, "owner"), case.method, path_of(route, owned[case.thing]))

    assert answer.status == case.owner_status


LISTS_AND_SEARCHES = sorted(name for name in named(PUBLIC) + named(LOGIN)
                            if not ROUTES_BY_NAME[name].kwargs and "get" in ROUTES_BY_NAME[name].methods())


@pytest.mark.parametrize("name", LISTS_AND_SEARCHES)
def test_no_list_or_search_shows_the_owners_things_to_anyone_else(world, owned, name):
    path = path_of(ROUTES_BY_NAME[name])

    for who, make_client in intruders(world, ROUTES_BY_NAME[name]).items():
        # words that find them (not whole marks: a search box shows its query)
        for query in ("", world["facility"].slug, world["workflow"].title.split()[0], "4b1d"):
            answer = ask(make_client(), "get", f"{path}?q={quote(query)}" if query else path)
            assert not [mark for mark in owned["marks"] if mark in answer.body], (who, query)


# ---- login routes whose input names an object limited to groups -------------------------------------


@dataclass(frozen=True)
class InputCase:
    route: str
    method: str
    data: dict[str, str]  # {workflow} (an id), {workflow_slug}, {facility}: the owner's group's


INPUT_CASES = [
    InputCase("cart-workflow", "post", {"workflow": "{workflow}"}),
    InputCase("cart-facility", "post", {"facility_profile": "{facility}/small"}),
    InputCase("cart-checkout", "post", {"workflow": "{workflow}"}),
    InputCase("cart-checkout", "post", {"facility_profile": "{facility}/small"}),
    InputCase("launch-link", "get", {"workflow": "{workflow_slug}"}),
    InputCase("launch-link", "post", {"workflow": "{workflow_slug}"}),
    InputCase("launch-link", "get", {"workflow": "{public_workflow_slug}", "facility": "{facility}"}),
    InputCase("launch-link", "post", {"workflow": "{public_workflow_slug}", "facility": "{facility}"}),
    InputCase("api-cart-workflow", "put", {"workflow": "{workflow}"}),
    InputCase("api-cart-facility", "put", {"facility": "{facility}"}),
]


def intruders_cart(world, role: str) -> list:
    cart = cart_for(user=world["users"][role])  # made at the first look, as any page would
    return [cart.workflow_id, cart.workflow_version_id, cart.facility_id, cart.profile_id,
            list(cart.items.values_list("dataset", flat=True))]


def client_of(world, case: InputCase, role: str) -> Client:
    return session_api(world, role) if ROUTES_BY_NAME[case.route].is_api else page_client(world, role)


def send(client, case: InputCase, references: dict[str, str]) -> Answer:
    data = {key: value.format(**references) for key, value in case.data.items()}
    path = reverse(case.route)
    response = (getattr(client, case.method)(path, data, format="json") if ROUTES_BY_NAME[case.route].is_api
                else getattr(client, case.method)(path, data))
    body = response.content.decode()
    for name in ("workflow_slug", "facility"):  # a name the answer repeats, as it would any misspelt one
        body = body.replace(references[name], "<name>")
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', body)
    return Answer(response.status_code, response.headers.get("Location", ""), body,
                  [str(message) for message in get_messages(response.wsgi_request)])


@pytest.mark.parametrize("case", INPUT_CASES,
                         ids=[f"{c.method} {c.route} {sorted(c.data)}" for c in INPUT_CASES])
def test_naming_a_groups_facility_or_workflow_in_a_request_is_answered_as_a_name_that_does_not_exist(
        world, owned, case):
    public = make_workflow(path="catalogue_overview.ipynb")
    references = {"workflow": str(world["workflow"].pk), "workflow_slug": world["workflow"].slug,
                  "facility": world["facility"].slug, "public_workflow_slug": public.slug}
    unknown = {**references, "workflow": "987654321", "workflow_slug": "no-such-workflow",
               "facility": "no-such-facility"}
    owners_before = owners_things(world)

    for role in INTRUDERS:
        before = intruders_cart(world, role)

        answer = send(client_of(world, case, role), case, references)

        assert answer == send(client_of(world, case, role), case, unknown), role
        assert not [mark for mark in owned["marks"] if mark in answer.body + " ".join(answer.messages)]
        assert intruders_cart(world, role) == before, role
    assert owners_things(world) == owners_before
    owner_knows, owner_unknown = (send(client_of(world, case, "owner"), case, names)
                                  for names in (references, unknown))
    assert owner_knows != owner_unknown  # the control: for the owner, the name matters
