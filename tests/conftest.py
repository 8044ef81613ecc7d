"""Suite-wide fixtures. Each real server lives behind one session-scoped fixture in tests/servers/."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.servers.jupyterhub.fixture import jupyterhub  # noqa: F401  (session-scoped real hub)
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
