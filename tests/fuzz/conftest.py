"""The fuzzers that talk to a real server use the integration fixtures (one server process)."""
from tests.integration.conftest import database_url, live_server, server_settings  # noqa: F401
