"""Chaos: a node killed in a notify burst, PostgreSQL and Redis restarted under load.

Real server processes on a private PostgreSQL and Redis (never the machine's shared ones).
The short runs are part of `make test`; CHAOS_LONG=1 runs the long ones (bench/chaos.py prints
their figures for docs/RELIABILITY.md).
"""
import os

import pytest

from tests.conftest import require_service

from .scenarios import (LONG, SHORT, kill_node_during_burst, postgres_restart_under_load,
                        redis_restart_in_cluster)
from tests.support.services import PrivatePostgres, PrivateRedis, missing_binaries

pytestmark = pytest.mark.integration

SIZES = LONG if os.environ.get("CHAOS_LONG") == "1" else SHORT


@pytest.fixture(scope="module")
def private_postgres():
    """A PostgreSQL server of this module's own, on a free port."""
    problem = missing_binaries()
    if problem:
        require_service("PostgreSQL and Redis servers", problem)
    server = PrivatePostgres().start()
    yield server
    server.close()


@pytest.fixture
def private_redis(private_postgres):
    """A redis-server of this test's own, on a free port."""
    server = PrivateRedis().start()
    yield server
    server.close()


def test_a_node_killed_in_a_notify_burst_loses_and_duplicates_nothing(private_postgres, private_redis,
                                                                       tmp_path):
    sizes = SIZES["kill"]
    figures = kill_node_during_burst(private_postgres.create_database(), private_redis.url,
                                     str(tmp_path), **sizes)
    print("\nkill -9:", figures)
    writes = sizes["writers"] * sizes["per_writer"]
    assert figures["acknowledged"] == writes and figures["not_acknowledged"] == 0
    assert figures["stored"] == writes
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert len(figures["restart_seconds"]) == sizes["kills"]
    assert figures["failovers"] > 0, "no write met the killed node: the kill came too late"
    survivor, moving = figures["delivery"]["survivor"], figures["delivery"]["reconnecting"]
    assert moving["reconnects"] >= moving["sockets"] * sizes["kills"]
    for group in (survivor, moving):
        assert group["missing"] == [], f"acknowledged but never delivered: {group}"
        assert group["duplicates"] == 0
        assert group["delivered_min"] == writes


def test_postgres_restarted_under_load_answers_503_and_recovers(private_postgres, tmp_path):
    figures = postgres_restart_under_load(private_postgres, str(tmp_path), **SIZES["postgres"])
    print("\nPostgreSQL restart:", figures)
    assert figures["requests_during_outage"] > 0
    assert figures["http_500"] == 0, f"500s while PostgreSQL was down: {figures['statuses_during_outage']}"
    assert figures["not_envelopes"] == 0
    assert figures["slowest_seconds"] < 10, "a request hung while PostgreSQL was down"
    assert set(figures["health_during_outage"]) == {"503 SERVICE_UNAVAILABLE degraded"}
    assert {code for code, _ in figures["socket_acks_during_outage"]} == {"SERVICE_UNAVAILABLE"}
    assert figures["write_recovery_seconds"] is not None and figures["write_recovery_seconds"] < 5
    assert figures["health_recovery_seconds"] is not None and figures["health_recovery_seconds"] < 5
    assert figures["failures_after_recovery"] == 0
    assert figures["sdk_write_in_flight_seconds"] < 10, "an SDK write hung after the recovery"
    assert figures["sdk_acknowledged"] > 0 and figures["sdk_not_acknowledged"] == 0
    assert figures["sdk_lost"] == 0 and figures["sdk_duplicated"] == 0


def test_redis_restarted_in_a_cluster_keeps_local_delivery_and_recovers(private_postgres, private_redis,
                                                                        tmp_path):
    figures = redis_restart_in_cluster(private_postgres.create_database(), private_redis, str(tmp_path),
                                       **SIZES["redis"])
    print("\nRedis restart:", figures)
    assert figures["writes_during_outage"] == {"201": 2 * SIZES["redis"]["probes"]}
    assert figures["local_missed"] == 0 and figures["local_delivered"] == 2 * SIZES["redis"]["probes"]
    assert figures["cross_node_recovery_seconds"] is not None
    assert figures["cross_node_recovery_seconds"] < 15
    assert figures["lost"] == 0
    assert figures["undelivered"] == {"a": 0, "b": 0}, "acknowledged but never delivered"
    assert figures["duplicates"] == {"a": 0, "b": 0}
