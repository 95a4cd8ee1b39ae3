"""`flask token`, `flask prune-activity`, `flask prune-idempotency` and `python app.py --help`."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import jwt as pyjwt
import pytest
from sqlalchemy import func, select

from devtracker.models import Activity, IdempotencyRecord
from devtracker.models.base import utcnow
from tests.conftest import SECRET
from tests.helpers import assert_error, assert_ok

API = "/api/v1/realtime"
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def mint(cli, *options):
    result = cli("token", *options)
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert "\n" not in token and token.count(".") == 2
    return token


def test_token_help_exits_zero_with_usage_and_every_option(cli):
    result = cli("token", "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    for option in ("--user-id", "--username", "--role", "--expires-in"):
        assert option in result.output


def test_the_top_level_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("token", "prune-activity", "prune-idempotency"):
        assert command in result.output


def test_an_admin_token_from_the_cli_authenticates_as_an_admin(cli, client):
    token = mint(cli, "--user-id", "alice", "--role", "admin")
    response = client.post(f"{API}/broadcast", headers={"Authorization": f"Bearer {token}"},
                           json={"event": "system:notice", "message": "Hello"})
    data = assert_ok(response)
    assert data["event"] == "system:notice" and data["message"] == "Hello"


def test_a_cli_token_carries_sub_username_role_and_a_day_of_life(cli):
    claims = pyjwt.decode(mint(cli, "--user-id", "svc-tasks", "--username", "Task service",
                               "--role", "service"), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "svc-tasks" and claims["username"] == "Task service"
    assert claims["role"] == "service"
    assert claims["exp"] - claims["iat"] == 86400
    assert abs(claims["iat"] - time.time()) < 60


def test_a_cli_token_defaults_to_the_user_role_and_the_user_id_as_username(cli, client):
    token = mint(cli, "--user-id", "bob")
    claims = pyjwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["role"] == "user" and claims["username"] == "bob"
    headers = {"Authorization": f"Bearer {token}"}
    assert_ok(client.get(f"{API}/stats", headers=headers))
    assert_error(client.post(f"{API}/broadcast", headers=headers,
                             json={"event": "system:notice", "message": "Hi"}), 403, "FORBIDDEN")


def test_expires_in_sets_the_lifetime_and_zero_means_no_expiry(cli, client):
    claims = pyjwt.decode(mint(cli, "--user-id", "bob", "--expires-in", "60"), SECRET,
                          algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 60
    token = mint(cli, "--user-id", "bob", "--expires-in", "0")
    assert "exp" not in pyjwt.decode(token, SECRET, algorithms=["HS256"])
    assert_ok(client.get(f"{API}/stats", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("user_id", ["bad id", "a/b", "x" * 129, ""])
def test_a_bad_user_id_is_refused_with_a_non_zero_exit(cli, user_id):
    result = cli("token", "--user-id", user_id)
    assert result.exit_code != 0
    assert "--user-id" in result.output
    assert "eyJ" not in result.output


@pytest.mark.parametrize("args", [["--role", "root"], ["--expires-in", "-1"], ["--expires-in", "soon"]])
def test_a_bad_role_or_lifetime_is_refused(cli, args):
    result = cli("token", "--user-id", "alice", *args)
    assert result.exit_code != 0
    assert "eyJ" not in result.output


def test_a_missing_user_id_is_refused(cli):
    result = cli("token")
    assert result.exit_code != 0
    assert "--user-id" in result.output


def add_activity(db, target, age):
    seq = (db.session.execute(select(func.max(Activity.seq))).scalar() or 0) + 1
    row = Activity(user_id="alice", username="Alice", type="task", action="created",
                   target=target, created_at=utcnow() - age, seq=seq)
    db.session.add(row)
    db.session.commit()
    return row.id


def remaining_targets(db):
    db.session.expire_all()
    return sorted(db.session.execute(select(Activity.target)).scalars())


def test_prune_activity_deletes_only_rows_older_than_the_days_given(cli, db):
    add_activity(db, "ancient", timedelta(days=400))
    add_activity(db, "old", timedelta(days=31))
    add_activity(db, "recent", timedelta(days=29))
    add_activity(db, "now", timedelta(0))
    result = cli("prune-activity", "--older-than-days", "30")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Deleted 2 activity rows."
    assert remaining_targets(db) == ["now", "recent"]


def test_prune_activity_defaults_to_the_retention_setting(cli, db, app):
    assert app.config["ACTIVITY_RETENTION_DAYS"] == 90
    add_activity(db, "old", timedelta(days=91))
    add_activity(db, "kept", timedelta(days=89))
    result = cli("prune-activity")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Deleted 1 activity rows."
    assert remaining_targets(db) == ["kept"]


def test_prune_activity_with_nothing_old_deletes_nothing(cli, db):
    add_activity(db, "now", timedelta(0))
    result = cli("prune-activity", "--older-than-days", "1")
    assert result.exit_code == 0 and result.output.strip() == "Deleted 0 activity rows."
    assert remaining_targets(db) == ["now"]


def test_prune_activity_keeps_the_newest_row_so_the_stream_never_numbers_from_1_again(cli, db, client, auth):
    add_activity(db, "old", timedelta(days=100))
    add_activity(db, "newest but old", timedelta(days=95))
    result = cli("prune-activity")
    assert result.exit_code == 0 and result.output.strip() == "Deleted 1 activity rows."
    assert remaining_targets(db) == ["newest but old"]
    response = client.post("/api/v1/realtime/activity", headers=auth("alice"),
                           json={"type": "task", "action": "created", "target": "after the prune"})
    assert response.status_code == 201 and response.get_json()["data"]["seq"] == 3


def test_prune_activity_refuses_a_negative_number_of_days(cli, db):
    add_activity(db, "old", timedelta(days=10))
    assert cli("prune-activity", "--older-than-days", "-1").exit_code != 0
    assert remaining_targets(db) == ["old"]


def add_record(db, scope, age):
    db.session.add(IdempotencyRecord(scope=scope, fingerprint="f" * 64, status=201,
                                     response={"id": 1}, created_at=utcnow() - age))
    db.session.commit()


def test_prune_idempotency_deletes_only_records_older_than_a_day(cli, db):
    add_record(db, "a" * 64, timedelta(hours=25))
    add_record(db, "b" * 64, timedelta(days=3))
    add_record(db, "c" * 64, timedelta(hours=23))
    add_record(db, "d" * 64, timedelta(0))
    result = cli("prune-idempotency")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Deleted 2 idempotency records."
    db.session.expire_all()
    assert sorted(db.session.execute(select(IdempotencyRecord.scope)).scalars()) == ["c" * 64, "d" * 64]


def test_a_pruned_idempotency_key_is_served_fresh_again(cli, db, client, auth):
    headers = auth("svc", "service", **{"Idempotency-Key": "k-1"})
    body = {"type": "task", "action": "created", "target": "Fix login"}
    first = assert_ok(client.post(f"{API}/activity", json=body, headers=headers), 201)
    assert assert_ok(client.post(f"{API}/activity", json=body, headers=headers), 201) == first
    db.session.execute(IdempotencyRecord.__table__.update().values(
        created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    assert cli("prune-idempotency").output.strip() == "Deleted 1 idempotency records."
    again = assert_ok(client.post(f"{API}/activity", json=body, headers=headers), 201)
    assert again["id"] > first["id"]


def test_python_app_py_help_exits_zero_and_describes_the_options():
    env = {**os.environ, "ASYNC_MODE": "threading"}
    result = subprocess.run([sys.executable, "app.py", "--help"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python app.py")
    for option in ("--host", "--port", "--env", "--no-migrate"):
        assert option in result.stdout
