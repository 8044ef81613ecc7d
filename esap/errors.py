"""Errors shared by every app, split by who can act on them, each with a stable message id.

`UserError`: the user can fix it (bad input, missing cart choice, a cell of their notebook raised).
`ServiceError`: our fault or an outage (hub down, spawn failed); retrying later may help.
The texts live here, in one place, so pages, API bodies and checkout events say the same thing.
"""
from typing import Any

# The plain sentence of a message whose technical {detail} a page shows apart, folded away (see summary());
# API bodies, logs and MESSAGES keep both.
SUMMARIES: dict[str, str] = {
    "vo.unavailable": "The VO service {service!r} {reason}. Try again later or choose another service.",
}

MESSAGES: dict[str, str] = {
    "cart.empty": "Add at least one dataset to your cart before checking out.",
    "cart.no_workflow": "Choose a workflow before checking out.",
    "cart.no_facility": "Choose a facility and one of its server profiles before checking out.",
    "cart.profile_mismatch": "The profile {profile!r} is not offered by facility {facility!r}.",
    "cart.unknown_version": "Workflow {workflow!r} has no version read at commit {commit}.",
    "cart.not_allowed": "You may not launch the {what} in your cart (any more); choose another.",
    "cart.frozen": "Your cart is being checked out; it can be changed again when that checkout ends.",
    "catalogue.not_found": "No {kind} with id {id}.",
    "checkout.not_retryable": "Only a failed checkout can be retried (this one is {state}).",
    "checkout.retry_cannot_fix": "The facility or workflow of this launch is gone, so it cannot be retried. Your "
                                 "cart is kept: change it and check out again.",
    "checkout.not_allowed": "You may no longer launch the {what}, so this launch cannot be retried.",
    "checkout.not_cancellable": "This checkout has already ended ({state}).",
    "checkout.not_stoppable": "Only a ready launch has a server to stop (this one is {state}).",
    "checkout.forget_live": "This launch is {state}: stop it first; only an ended launch's server can be "
                            "recorded as gone with its hub.",
    "checkout.no_server": "Only a ready launch has a server to fetch its notebook from (this one is {state}).",
    "checkout.stale_state": "The checkout moved on to {actual} while {expected} was expected.",
    "facility.no_token": "Facility {facility!r} has no API token configured; an operator must add one.",
    "facility.token_unreadable": "Facility {facility!r} has a stored API token the portal can no longer decrypt "
                                 "(its key was removed from ESAP_FIELD_ENCRYPTION_KEYS); an operator must enter "
                                 "the token again or restore the key.",
    "facility.unavailable": "The facility's JupyterHub could not be reached: {detail}",
    "facility.forbidden": "The facility's JupyterHub refused the portal: {detail}",
    "facility.rejected": "The facility's JupyterHub rejected the request: {detail}",
    "spawn.failed": "Your server could not be started: {detail}",
    "spawn.server_limit": "The facility lets you have at most {limit} server(s) at once. Under Your launches, "
                          "stop a launch you no longer need (or cancel one that failed), then retry this one.",
    "spawn.timeout": "Your server did not become ready within {seconds} seconds.",
    "notebook.parameters": "The workflow's notebook cannot take these parameters: {detail}",
    "notebook.cell_error": "Cell {cell} of the notebook raised {ename}: {evalue}",
    "notebook.kernel_timeout": "Cell {cell} of the notebook did not finish within {seconds} seconds.",
    "notebook.kernel_unreachable": "The notebook's kernel could not be reached: {detail}",
    "notebook.interrupted": "Running the notebook's first cells was interrupted part-way; retry to run them again.",
    "notebook.missing": "The workflow of this checkout no longer exists in the catalogue.",
    "facility.missing": "The facility of this checkout no longer exists in the catalogue.",
    "hub.user_missing": "There is no user {username!r} on this facility's hub and the facility does not let "
                        "the portal create users.",
    "datalake.unknown": "There is no data lake {slug!r}.",
    "datalake.unavailable": "The data lake could not be searched: {detail}",
    "datalake.refused": "The data lake refused the search: {detail}",
    "datalake.bad_search": "This search cannot be sent to the data lake: {detail}.",
    "identity.no_account": "Facility {facility!r} knows its users by their {provider!r} identity: log in "
                           "with {provider!r} once, then check out again.",
    "identity.unusable_claim": "Your {claim!r} from the identity provider cannot be used as a user name on "
                               "facility {facility!r}; ask its operators.",
    "staging.failed": "Dataset {identifier!r} could not be staged: {detail}",
    "staging.unavailable": "Dataset {identifier!r} could not be staged now: {detail}",
    "vo.query": "The VO search cannot be run: {detail}",
    "vo.unavailable": SUMMARIES["vo.unavailable"] + " Detail: {detail}",
    "vo.not_found": "The VO service {service!r} has no dataset {identifier!r} (any more).",
    "vo.not_searchable": "The VO service {service!r} is a {kind}; {detail}",
    "url.not_allowed": "The URL {url!r} is not allowed: {detail}",
    "repository.bad_ref": "{ref!r} is not a Git ref (a branch, tag or commit SHA).",
    "launch_link.invalid": "This launch link cannot be used: {detail}",
    "internal": "An unexpected error stopped this step; the operators have been told.",
    "step.time_limit": "This step ran longer than a worker may spend on one task ({seconds} s) and was "
                       "stopped. Retry to go on from here; if it stops again, the data is too large to fetch "
                       "this way (the operators can raise ESAP_TASK_SOFT_TIME_LIMIT).",
}

# Failures only the facility's operators can mend (its configuration). A retry is still offered: once they
# have mended it, the retry goes on from the failed step. Each code at any step (None), or only at the
# steps named: a request the hub rejects at spawning is the profile it was sent, one rejected later a
# server gone meanwhile, which a retry spawns again.
NEEDS_AN_OPERATOR: dict[str, frozenset[str] | None] = {
    "facility.no_token": None,
    "facility.token_unreadable": None,
    "facility.rejected": frozenset({"spawning"}),
    "hub.user_missing": None,
    # The facility's hub resolves to an address the portal may not call (a hub moved inside a private
    # network, or a name rebinding to one): its operators, or the portal's, must mend it.
    "url.not_allowed": frozenset({"spawning", "uploading", "executing"}),
}
# What the launch names is gone from the catalogue: no retry can bring it back; the cart is checked out again.
CANNOT_BE_RETRIED = frozenset({"facility.missing", "notebook.missing"})


def retry_can_fix(code: str, *, step: str) -> bool:
    return code not in CANNOT_BE_RETRIED


def needs_an_operator(code: str, *, step: str) -> bool:
    if code not in NEEDS_AN_OPERATOR:
        return False
    steps = NEEDS_AN_OPERATOR[code]
    return steps is None or step in steps


class EsapError(Exception):
    """Base error carrying a stable `code` and its rendered message."""

    retryable = False

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        self.message = MESSAGES[code].format(**params)
        super().__init__(self.message)


class UserError(EsapError):
    """The user can act on this."""


class ServiceError(EsapError):
    """Our fault or an outage; a retry later may succeed."""

    retryable = True


def summary(error: EsapError) -> tuple[str, str]:
    """The error's plain sentence and its technical detail ("" when the message keeps no detail apart)."""
    if plain := SUMMARIES.get(error.code):
        return plain.format(**error.params), str(error.params.get("detail", ""))
    return error.message, ""
