"""What a request costs in SQL queries, to state that a list costs the same for a few rows as for many
(no query per row shown), whatever the number of queries is."""
from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext

FEW, MANY = 3, 30


def queries_of(client, path: str, data: dict | None = None) -> int:
    """The queries a GET of `path` costs once the process is warm (Django caches content types, sites and
    the like on first use: those would count against the first request only)."""
    client.get(path, data)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, data)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


def few_and_many(add_rows: Callable[[int], object], measure: Callable[[], int]) -> tuple[int, int]:
    """What `measure` costs with FEW rows, then with MANY: `add_rows(n)` adds n more rows."""
    add_rows(FEW)
    few = measure()
    add_rows(MANY - FEW)
    return few, measure()
