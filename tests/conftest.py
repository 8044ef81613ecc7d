"""Suite-wide fixtures. Each real server lives behind one session-scoped fixture in tests/servers/."""
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.factories import make_facility
from tests.servers.browser import browser  # noqa: F401  (session-scoped headless Chromium)
from tests.servers.git import git_server  # noqa: F401  (session-scoped git daemon)
from tests.servers.jupyterhub.fixture import jupyterhub  # noqa: F401  (session-scoped real hub)
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


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """A file database (not in-memory) so that the Celery worker process sees what the tests write."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATABASES["default"]["TEST"]["NAME"] = str(_TEST_DATABASE)


_facilities = itertools.count(1)


@pytest.fixture
def launch_env(jupyterhub, celery_worker, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    return jupyterhub


@pytest.fixture
def hub_facility(launch_env):
    def build(*, token: str | None = None, deadline: int = 60, hub_url: str | None = None, **fields):
        return make_facility(
            f"hub-{next(_facilities)}", hub_url=hub_url or launch_env.url,
            token=launch_env.service_token if token is None else token,
            profiles=("small", "exits", "hangs", "gpu-unknown"), spawn_deadline_seconds=deadline, **fields)
    return build
