import json
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from esap.errors import EsapError, UserError
from esap.numbers import whole_number
from esap.pages import PAGE_SIZE, back_to, search_page
from facilities.selectors import facility_list
from staging import launch_links, selectors, services
from staging.checkout import services as checkout_services
from staging.checkout.progress import event_stream, terminal_json
from staging.checkout.states import TERMINAL, State
from staging.sources.base import source_kinds
from workflows.selectors import workflow_list


def dataset_list_page(request):
    source = request.GET.get("source", "")
    in_cart = set()
    if request.user.is_authenticated:
        in_cart = set(selectors.cart_for(user=request.user).items.values_list("dataset_id", flat=True))
    return search_page(request, "staging/datasets.html",
                       lambda q: selectors.dataset_list(query=q, source=source),
                       sources=source_kinds(), source=source, in_cart=in_cart)


@login_required
def cart_page(request):
    return _cart_render(request)


def _cart_render(request, *, picked: dict | None = None, status: int = 200):
    """The cart page; `picked` (a refused checkout's form) selects its choices again in the dropdowns."""
    cart = selectors.cart_for(user=request.user)
    # A chosen workflow is shown as it is (pinned or latest); a list to choose from only while none is.
    offered = [] if cart.workflow_id else list(workflow_list(viewer=request.user)[:CART_WORKFLOW_CHOICES + 1])
    in_cart = f"{cart.facility.slug}/{cart.profile.slug}" if cart.facility_id and cart.profile_id else ""
    picked = picked or {}
    return render(request, "staging/cart.html", {
        "cart": cart,
        "items": selectors.cart_items(cart=cart),
        "workflows": offered[:CART_WORKFLOW_CHOICES],
        "more_workflows": len(offered) > CART_WORKFLOW_CHOICES,
        "facilities": facility_list(viewer=request.user),
        "selected_workflow": whole_number(picked.get("workflow")),
        "selected_profile": picked.get("facility_profile") or in_cart,
    }, status=status)


CART_WORKFLOW_CHOICES = 200


def _cart_action(request, action, success: str, *, missing: str, next_step: bool = False):
    """Run a cart service and go back to the page the user came from, saying what happened: what is gone
    by now (a second click, another tab) is said there too, with the page around it. With `next_step`,
    a success away from the cart page also says what is left to do, with a link to it."""
    target = back_to(request, "/cart/")
    refused = _refusal(action, missing=missing)
    if refused:
        messages.error(request, refused)
    elif next_step and urlsplit(target).path != "/cart/":
        messages.success(request, format_html("{} {}", success, _next_step(request.user)))
    else:
        messages.success(request, success)
    return redirect(target)


def _refusal(action, *, missing: str) -> str:
    """Run a cart service; what the user is told if it refuses, or "" if it is done."""
    try:
        action()
    except UserError as error:
        return error.message
    except ObjectDoesNotExist:
        return missing
    except ValueError:
        raise Http404("No such item.") from None
    return ""


def _next_step(user) -> str:
    """A link to what is left to do before checking out, or to the cart when nothing is."""
    cart = selectors.cart_for(user=user)
    if cart.workflow_id is None:
        url, text = "/workflows/", "Next: choose a workflow"
    elif cart.profile_id is None:
        url, text = "/facilities/", "Next: choose a facility"
    elif not cart.items.exists():
        url, text = "/datasets/", "Next: add datasets"
    else:
        url, text = "/cart/", "Go to your cart"
    return format_html('<a href="{}">{}</a>.', url, text)


WORKFLOW_MISSING = "That workflow is not available (deleted, or not shared with you)."
FACILITY_MISSING = "That facility is not available (deleted, or not shared with you)."


def _int_field(request, name: str) -> int:
    value = whole_number(request.POST.get(name))
    if value is None:
        raise Http404(f"Missing or malformed {name}.")
    return value


@login_required
@require_POST
def cart_add(request):
    dataset_id = _int_field(request, "dataset")
    return _cart_action(request, lambda: services.cart_add_dataset(user=request.user, dataset_id=dataset_id),
                        "Added to your cart.", missing="That dataset is no longer in the catalogue.")


@login_required
@require_POST
def cart_remove(request, item_id: int):
    return _cart_action(request, lambda: services.cart_remove_item(user=request.user, item_id=item_id),
                        "Removed from your cart.", missing="That dataset is no longer in your cart.")


@login_required
@require_POST
def cart_workflow(request):
    # An empty choice clears the workflow; anything else must be an id, or nothing changes.
    workflow_id = _int_field(request, "workflow") if request.POST.get("workflow") else None
    commit = request.POST.get("commit", "")[:64]
    return _cart_action(
        request,
        lambda: services.cart_choose_workflow(user=request.user, workflow_id=workflow_id, commit_sha=commit),
        "Workflow chosen." if workflow_id else "Workflow removed from the cart.",
        missing=WORKFLOW_MISSING, next_step=bool(workflow_id))


@login_required
@require_POST
def cart_facility(request):
    facility, _, profile = request.POST.get("facility_profile", "").partition("/")
    return _cart_action(
        request,
        lambda: services.cart_choose_facility(user=request.user, facility_slug=facility or None,
                                              profile_slug=profile),
        "Facility chosen." if facility else "Facility removed from the cart.",
        missing=FACILITY_MISSING, next_step=bool(facility))


@login_required
@require_POST
def cart_checkout(request):
    # What the cart page's dropdowns show is what is launched, saved as their own Choose buttons would.
    refused = _cart_choices_save(request)
    if refused:
        for message in refused:
            messages.error(request, message)
        return _cart_render(request, picked=request.POST, status=400)
    try:
        checkout = checkout_services.checkout_start(user=request.user)
    except UserError as error:
        messages.error(request, error.message)
        return redirect("/cart/")
    return redirect(f"/checkouts/{checkout.pk}/")


def _cart_choices_save(request) -> list[str]:
    """Save the workflow and the facility profile the checkout form sends (an empty or absent one changes
    nothing); what was refused, each message once."""
    refused = []
    if request.POST.get("workflow"):
        workflow_id = _int_field(request, "workflow")
        refused.append(_refusal(
            lambda: services.cart_choose_workflow(user=request.user, workflow_id=workflow_id),
            missing=WORKFLOW_MISSING))
    facility, _, profile = request.POST.get("facility_profile", "").partition("/")
    if facility:
        refused.append(_refusal(
            lambda: services.cart_choose_facility(user=request.user, facility_slug=facility,
                                                  profile_slug=profile),
            missing=FACILITY_MISSING))
    return list(dict.fromkeys(message for message in refused if message))


@login_required
def checkout_list_page(request):
    checkouts = selectors.checkouts_named(selectors.checkout_list(user=request.user))
    page = Paginator(checkouts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "staging/checkouts.html", {"page": page})


def _own_checkout(request, pk, *, named: bool = False):
    checkouts = selectors.checkout_list(user=request.user)
    try:
        return (selectors.checkouts_named(checkouts) if named else checkouts).get(pk=pk)
    except ObjectDoesNotExist:
        raise Http404("No such checkout.") from None


@login_required
def checkout_page(request, pk):
    checkout = _own_checkout(request, pk, named=True)
    terminal = terminal_json(checkout)
    return render(request, "staging/checkout.html", {
        "checkout": checkout, "events": checkout.events.all(), "terminal": terminal,
        "stop_failed": selectors.server_stop_failed(checkout=checkout),
        "can_cancel": checkout.state not in TERMINAL or checkout.state == State.FAILED,
        # the page follows the stream until the launch ends, or until its server's stop has an outcome
        "live": terminal is None or (terminal["event"] == "stopped" and terminal["server_stopped"] is None),
    })


@login_required
def checkout_stream(request, pk):
    checkout = _own_checkout(request, pk)
    after = request.headers.get("Last-Event-ID", "0")
    response = StreamingHttpResponse(
        event_stream(checkout.pk, after=whole_number(after) or 0),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@login_required
@require_POST
def checkout_retry(request, pk):
    return _act_on_checkout(request, pk, checkout_services.checkout_retry)


@login_required
@require_POST
def checkout_cancel(request, pk):
    return _act_on_checkout(request, pk, checkout_services.checkout_cancel)


@login_required
@require_POST
def checkout_stop(request, pk):
    return _act_on_checkout(request, pk, checkout_services.checkout_stop, done="Your server is being stopped.")


def _act_on_checkout(request, pk, action, *, done: str = ""):
    """Run a service on the user's own checkout; its refusal becomes a message on the page returned to."""
    _own_checkout(request, pk)
    try:
        action(user=request.user, pk=pk)
        if done:
            messages.success(request, done)
    except UserError as error:
        messages.error(request, error.message)
    return redirect(back_to(request, f"/checkouts/{pk}/"))


@login_required
def checkout_notebook_download(request, pk):
    _own_checkout(request, pk)
    try:
        name, notebook = checkout_services.checkout_notebook(user=request.user, pk=pk)
    except EsapError as error:  # not ready, or its server gone (culled) or unreachable
        messages.error(request, error.message)
        return redirect(f"/checkouts/{pk}/")
    response = HttpResponse(json.dumps(notebook, indent=1), content_type="application/x-ipynb+json")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    return response


@login_required
def launch_link_page(request):
    """GET shows what the link would put in the cart; only the confirming POST changes anything."""
    params = request.POST if request.method == "POST" else request.GET
    try:
        launch = launch_links.launch_link_parse(params=params, user=request.user)
        if request.method == "POST":
            launch_links.cart_fill_from_link(user=request.user, request=launch,
                                             replace=request.POST.get("mode") != "add")
            messages.success(request, "Your cart is filled from the launch link: check it and launch.")
            return redirect("/cart/")
    except UserError as error:
        return render(request, "staging/launch_link.html", {"error": error.message}, status=400)
    in_cart = selectors.cart_items(cart=selectors.cart_for(user=request.user)).count()
    return render(request, "staging/launch_link.html", {
        "launch": launch, "params": [(key, values) for key, values in params.lists() if key != "mode"],
        "in_cart": in_cart})


@login_required
def checkout_receipt_page(request, pk):
    checkout = _own_checkout(request, pk, named=True)
    # offered only if it would work for this user: the workflow, a dataset or the facility may be gone
    cannot_launch_again = launch_links.launch_again_problem(checkout, user=request.user)
    launch_again = "" if cannot_launch_again else launch_links.launch_link_for_checkout(checkout)
    return render(request, "staging/receipt.html", {
        "checkout": checkout, "launch_again": launch_again, "cannot_launch_again": cannot_launch_again})
