"""Suite-wide fixtures. Each real server lives behind one session-scoped fixture in tests/servers/."""
import itertools
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from facilities.models import Facility
from tests.factories import make_facility, make_user
from tests.secret_watch import CollectingHandler, leaked
from tests.servers.browser import browser  # noqa: F401  (session-scoped headless Chromium)
from tests.servers.git import git_server  # noqa: F401  (session-scoped git daemon)
from tests.servers.jupyterhub.fixture import jupyterhub  # noqa: F401  (session-scoped real hub)
from tests.servers.jupyterhub.localhub import free_port_block
from tests.servers.oidc.fixture import oidc_idp, portal_uses_idp  # noqa: F401  (the real OpenID provider)
from tests.servers.rucio.fixture import rucio_dataset, rucio_server  # noqa: F401  (session-scoped real Rucio)
from tests.servers.smtp import mail_server  # noqa: F401  (session-scoped SMTP server)
from tests.servers.vo.fixture import vo_server  # noqa: F401  (session-scoped GAVO DaCHS VO server)
from tests.servers.worker import celery_worker  # noqa: F401  (session-scoped real Celery worker)

ROOT = Path(__file__).resolve().parents[1]
_TEST_DATABASE = Path(tempfile.mkdtemp(prefix="esap-test-db-")) / "test.sqlite3"
# The built-in data source reads this folder in the test process and in the worker alike: the demo's
# sample files plus files whose names are hostile to code generation.
LOCAL_DATA = Path(tempfile.mkdtemp(prefix="esap-data-"))
HOSTILE_FILE_NAMES = [
    "it's \"quoted\".csv",
    "back\\slash\\.csv",
    "new\nline.csv",
    'triple""" quote.csv',
    '"""; __import__(\'os\').system(\'touch PWNED\'); """.csv',
    "'; import os; os.system('touch PWNED') #.csv",
    "line\u2028separator and {braces} %s.csv",
]
shutil.copytree(ROOT / "esap" / "demo" / "data", LOCAL_DATA, dirs_exist_ok=True)
(LOCAL_DATA / "hostile").mkdir()
for _name in HOSTILE_FILE_NAMES:
    (LOCAL_DATA / "hostile" / _name).write_text("a,b\n1,2\n")
os.environ["ESAP_DEMO_DATA_DIR"] = str(LOCAL_DATA)


def pytest_configure(config):
    """One block of ports below the ephemeral range for the servers that must know each other's
    addresses before they start: the hub (block +0..+2, its users' servers +10..+99), the OpenID
    provider (+5) and the portal's live server (+6), whose URLs the IdP registers as redirect URIs."""
    config.esap_port_base = free_port_block()
    if not config.getvalue("liveserver") and not os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS"):
        config.option.liveserver = f"localhost:{config.esap_port_base + 6}"


@pytest.fixture(scope="session", autouse=True)
def flush_outlasts_deadlocks():
    """A transactional test ends by truncating every table, while the real worker may still be reading
    (a parked checkout's next look waking up). On PostgreSQL the two can deadlock, and the server aborts
    the TRUNCATE; the leftover rows then break the tests after it. So the flush is tried again."""
    from django.db import OperationalError
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        for attempt in itertools.count(1):
            try:
                return original(self, sql_list)
            except OperationalError as error:
                if "deadlock detected" not in str(error) or attempt == 5:
                    raise
                time.sleep(0.5)

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log_line():
    root = logging.getLogger()
    handler, level = CollectingHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    found = leaked(handler)
    assert not found, f"secrets in log lines: {found}"


@pytest.fixture(scope="session")
def hub_port_base(pytestconfig) -> int:
    return pytestconfig.esap_port_base


@pytest.fixture(scope="session")
def idp_port(pytestconfig) -> int:
    return pytestconfig.esap_port_base + 5


@pytest.fixture(scope="session")
def live_server_url(pytestconfig) -> str:
    return f"http://{pytestconfig.getvalue('liveserver')}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """A file database (not in-memory) so that the Celery worker process sees what the tests write."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATABASES["default"]["TEST"]["NAME"] = str(_TEST_DATABASE)


_facilities = itertools.count(1)


@pytest.fixture
def scientist():
    """The Django test client logged in as an ordinary user."""
    from django.test import Client

    client = Client()
    client.force_login(make_user())
    return client


@pytest.fixture
def scientist_api():
    """An API client authenticated as an ordinary user."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(make_user())
    return api


@pytest.fixture
def admin_client_logged_in(client):
    """The Django test client logged in as an operator (staff and superuser)."""
    user = make_user(staff=True)
    user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def launch_env(jupyterhub, celery_worker, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    return jupyterhub


@pytest.fixture
def hub_facility(launch_env):
    def build(*, token: str | None = None, deadline: int = 60, hub_url: str | None = None, **fields):
        facility = make_facility(
            f"hub-{next(_facilities)}", hub_url=hub_url or launch_env.url,
            token=launch_env.service_token if token is None else token,
            profiles=("small", "exits", "hangs", "gpu-unknown"), **fields)
        # A test's spawn deadline may go below the admin's 10-second minimum, to stay fast.
        Facility.objects.filter(pk=facility.pk).update(spawn_deadline_seconds=deadline)
        facility.refresh_from_db()
        return facility
    return build
