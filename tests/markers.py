"""Markers for tests that prove something only PostgreSQL has.

On the embedded default (SQLite, what `make test` uses with no DATABASE_URL) such a
test skips and says why; CI refuses to start without PostgreSQL, so there it always runs.
"""

import pytest
from django.db import connection


def postgresql_only(why: str):
    return pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=f"PostgreSQL only: {why}; CI runs this on PostgreSQL",
    )
