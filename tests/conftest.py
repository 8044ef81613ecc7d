"""Suite-wide fixtures. Each real server lives behind one session-scoped fixture in tests/servers/."""
import tempfile
from pathlib import Path

import pytest

from tests.servers.jupyterhub.fixture import jupyterhub  # noqa: F401  (session-scoped real hub)
from tests.servers.worker import celery_worker  # noqa: F401  (session-scoped real Celery worker)

_TEST_DATABASE = Path(tempfile.mkdtemp(prefix="esap-test-db-")) / "test.sqlite3"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """A file database (not in-memory) so that the Celery worker process sees what the tests write."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATABASES["default"]["TEST"]["NAME"] = str(_TEST_DATABASE)
