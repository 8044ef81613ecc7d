"""How the portal talks to a Rucio instance: its configuration (RucioInstance), a logged-in client built
from it alone, and Rucio's exceptions translated into messages safe to show. rucio.py (finding and staging
datasets) and rucio_rules.py (the life of a replication rule) both build on it.
"""
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from staging.sources.base import DatasetRef, SourceUnavailable, StagingError

# Before rucio reads any configuration: see the file for why it exists.
os.environ.setdefault("RUCIO_CONFIG", str(Path(__file__).with_name("rucio_client.cfg")))

from rucio.client import Client  # noqa: E402
from rucio.common import exception as rucio_errors  # noqa: E402


class _HidePassword(logging.Filter):
    """rucio-clients logs every request header at DEBUG and hides only the token, not the
    X-Rucio-Password of a userpass login."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "X-Rucio-Password" in str(record.msg) or "X-Rucio-Password" in str(record.args):
            record.msg, record.args = "HTTP header:  X-Rucio-Password: [hidden]", ()
        return True


CLIENT_LOG = logging.getLogger("staging.sources.rucio.client")  # the logger handed to rucio-clients
CLIENT_LOG.addFilter(_HidePassword())


@dataclass(frozen=True)
class RucioInstance:
    """How the portal reaches one Rucio instance. The password never leaves this object's client."""

    slug: str
    server_url: str
    account: str
    username: str = ""
    password: str = field(default="", repr=False)
    auth_url: str = ""
    auth_type: str = "userpass"
    vo: str = "def"
    token_dir: str = ""  # private token cache of this instance (0700); default: under ~/.cache
    timeout: int = 30
    request_retries: int = 3
    rule_lifetime_seconds: int = 7 * 24 * 3600
    comment: str = "esap checkout"


def connect(instance: RucioInstance) -> Client:
    """A logged-in client built only from `instance`: no rucio.cfg with secrets, explicit timeout and
    request_retries, and a token cache private to the instance (the stock cache is keyed by OS user and
    account only, so two instances with the same account name would share tokens)."""
    token_dir = Path(instance.token_dir or Path.home() / ".cache" / "esap" / "rucio" / instance.slug)
    token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    client_class = type("InstanceClient", (Client,), {"TOKEN_PATH_PREFIX": f"{token_dir}/.rucio_",
                                                      "REQUEST_RETRIES": instance.request_retries})
    with translated_errors(instance):
        client = client_class(
            rucio_host=instance.server_url, auth_host=instance.auth_url or instance.server_url,
            account=instance.account, auth_type=instance.auth_type, vo=instance.vo,
            creds={"username": instance.username, "password": instance.password},
            timeout=instance.timeout, user_agent="esap", logger=CLIENT_LOG)
    client.request_retries = instance.request_retries  # a stray rucio.cfg must not override ours
    return client


class RucioError(Exception):
    """Rucio said no; the message is safe to show (no credentials)."""


class RucioOutage(RucioError):
    """Rucio could not be used at all (down, hanging, refusing the portal's login): not the user's doing."""


@contextmanager
def translated_errors(instance: RucioInstance, identifier: str = "") -> Iterator[None]:
    """Rucio's exceptions and network errors as one readable message."""
    try:
        yield
    except rucio_errors.CannotAuthenticate:
        raise RucioOutage(f"Rucio instance {instance.slug!r} refused the portal's login "
                               f"(account {instance.account!r}); an operator must fix its credentials")
    except rucio_errors.DataIdentifierNotFound:
        raise RucioError(f"no such data identifier in Rucio instance {instance.slug!r}")
    except rucio_errors.InsufficientAccountLimit as error:
        raise RucioError(f"the portal's Rucio quota is exceeded: {reason(error)}")
    except (rucio_errors.ServerConnectionException, requests.ConnectionError):
        raise RucioOutage(f"Rucio instance {instance.slug!r} at {instance.server_url} "
                               "could not be reached")
    except requests.Timeout:
        raise RucioOutage(f"Rucio instance {instance.slug!r} did not answer within {instance.timeout} s")
    except rucio_errors.DatabaseException as error:
        raise RucioOutage(f"Rucio instance {instance.slug!r} failed: {reason(error)}")
    except rucio_errors.RucioException as error:
        raise RucioError(f"Rucio instance {instance.slug!r} answered: {reason(error)}")


def reason(error: Exception) -> str:
    return " ".join(str(arg).strip() for arg in getattr(error, "args", ()) if arg) or type(error).__name__


@contextmanager
def for_dataset(ref: DatasetRef) -> Iterator[None]:
    try:
        yield
    except RucioError as error:
        raise staging_error(ref, error) from error


def staging_error(ref: DatasetRef, error: RucioError) -> StagingError:
    kind = SourceUnavailable if isinstance(error, RucioOutage) else StagingError
    return kind(ref.identifier, str(error))
