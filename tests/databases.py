"""Throwaway PostgreSQL databases for tests: created on entry, dropped (forcibly) on exit."""
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from devtracker.config import normalise_database_url


def postgres_problem(url):
    """None when PostgreSQL at `url` answers, else the first line of why not."""
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means "not reachable"; the reason is reported
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


@contextmanager
def fresh_database(server_url, prefix="devtracker_test"):
    """Create a database on the PostgreSQL server of `server_url`; yield its URL; drop it."""
    base = normalise_database_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
