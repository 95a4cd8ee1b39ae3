"""Column types and helpers shared by the models."""
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

# BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
SerialId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB where the database has it.
JsonData = JSON().with_variant(JSONB(), "postgresql")

# The largest notification or activity id (BIGINT); larger cursors are refused, not overflowed.
MAX_ID = 2**63 - 1

# Ids that users and tasks go by: 1-128 characters of [A-Za-z0-9_.:-] (SPEC §4).
ID_MAX_LENGTH = 128


def utcnow():
    """The current UTC time as a naive datetime (what the database columns store)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def isoformat(value):
    """ISO 8601 UTC with a `Z` and milliseconds, or None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"
