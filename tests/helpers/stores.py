"""Where the optional stores of a test run are: PostgreSQL and Redis, from the environment."""

from __future__ import annotations

import os

POSTGRES_URL = os.environ.get("DISSENT_TEST_DATABASE_URL", "")
