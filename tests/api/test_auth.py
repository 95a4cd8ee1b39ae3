"""Tokens and roles (SPEC §1): every way a token can be wrong is a 401 envelope with a challenge."""
import base64
import hashlib
import hmac
import json
import re
import time

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from devtracker.models import User
from tests.conftest import SECRET
from tests.helpers import assert_error, assert_ok

API = "/api/v1/realtime"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOTIFY_BODY = {"type": "mention", "title": "You were mentioned", "message": "@bob look at this"}
BROADCAST_BODY = {"event": "system:maintenance", "message": "Down at 02:00 UTC"}


def b64url(raw):
    if isinstance(raw, dict):
        raw = json.dumps(raw, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**overrides):
    now = int(time.time())
    payload = {"sub": "alice", "username": "Alice", "role": "user", "iat": now, "exp": now + 3600}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not ...}


def hs256(payload, secret=SECRET):
    return pyjwt.encode(payload, secret, algorithm="HS256")


def unsigned(payload):
    """`alg: none`, built by hand: header.payload. with an empty signature."""
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(payload)}."


def rs256_labelled(payload):
    """Header says RS256, but it is signed with HMAC over the shared secret (algorithm confusion)."""
    signing_input = f"{b64url({'alg': 'RS256', 'typ': 'JWT'})}.{b64url(payload)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def call(client, target, headers):
    if target == "stats":
        return client.get(f"{API}/stats", headers=headers)
    return client.post(f"{API}/notify/bob", json=NOTIFY_BODY, headers=headers)


def assert_unauthorized(response, code):
    """A whole 401 envelope: code, a message, nothing else, and the Bearer challenge."""
    error = assert_error(response, 401, code)
    assert set(response.get_json()) == {"success", "error"}
    assert set(error) == {"code", "message"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.mimetype == "application/json"


TARGETS = pytest.mark.parametrize("target", ["stats", "notify"])


@TARGETS
def test_a_request_without_authorization_is_told_the_token_is_missing(client, target):
    assert_unauthorized(call(client, target, {}), "TOKEN_MISSING")


@TARGETS
def test_another_authorization_scheme_counts_as_a_missing_bearer_token(client, target):
    assert_unauthorized(call(client, target, {"Authorization": "Basic YWxpY2U6eA=="}), "TOKEN_MISSING")


@TARGETS
@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b"])
def test_a_bearer_header_without_exactly_one_token_is_invalid(client, target, header):
    assert_unauthorized(call(client, target, {"Authorization": header}), "TOKEN_INVALID")


BAD_TOKENS = {
    "malformed": lambda: "abc",
    "three garbage segments": lambda: "aaa.bbb.ccc",
    "wrong secret": lambda: hs256(claims(), secret="another-secret-that-is-long-enough-for-hs256"),
    "alg none": lambda: unsigned(claims()),
    "alg none with admin role": lambda: unsigned(claims(role="admin")),
    "signed HS512 with the right secret": lambda: pyjwt.encode(claims(), SECRET, algorithm="HS512"),
    "labelled RS256": lambda: rs256_labelled(claims()),
    "sub missing": lambda: hs256(claims(sub=...)),
    "sub is a number": lambda: hs256(claims(sub=42)),
    "sub is a list": lambda: hs256(claims(sub=["alice"])),
    "sub has a space": lambda: hs256(claims(sub="alice smith")),
    "sub has a slash": lambda: hs256(claims(sub="../admin")),
    "sub is empty": lambda: hs256(claims(sub="")),
    "sub is too long": lambda: hs256(claims(sub="a" * 129)),
    "unknown role": lambda: hs256(claims(role="root")),
    "role is null": lambda: hs256(claims(role=None)),
    "username is blank": lambda: hs256(claims(username="   ")),
    "refresh token": lambda: hs256(claims(type="refresh")),
    "not yet valid": lambda: hs256(claims(nbf=int(time.time()) + 3600)),
}


@TARGETS
@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_an_unacceptable_token_is_refused_as_invalid(client, target, kind):
    response = call(client, target, bearer(BAD_TOKENS[kind]()))
    assert_unauthorized(response, "TOKEN_INVALID")


@TARGETS
def test_an_expired_token_is_refused_as_expired(client, target):
    now = int(time.time())
    token = hs256(claims(iat=now - 7200, exp=now - 3600))
    assert_unauthorized(call(client, target, bearer(token)), "TOKEN_EXPIRED")


def test_a_refused_token_stores_nothing(client, db):
    from devtracker.models import Notification
    call(client, "notify", bearer(unsigned(claims(role="admin"))))
    assert db.session.query(Notification).count() == 0
    assert db.session.query(User).count() == 0


def test_a_flask_jwt_extended_token_is_accepted_unchanged(app, client):
    token = create_access_token(identity="alice",
                                additional_claims={"username": "Alice Liddell", "role": "admin"})
    response = client.post(f"{API}/broadcast", json=BROADCAST_BODY, headers=bearer(token))
    data = assert_ok(response)
    assert set(data) == {"event", "message", "data", "timestamp"}
    assert data["event"] == "system:maintenance" and data["message"] == "Down at 02:00 UTC"
    assert data["data"] is None and ISO_Z.match(data["timestamp"])


def test_a_flask_jwt_extended_token_carries_its_username(app, client):
    token = create_access_token(identity="alice",
                                additional_claims={"username": "Alice Liddell", "role": "user"})
    response = client.post(f"{API}/activity", headers=bearer(token),
                           json={"type": "task", "action": "created", "target": "Fix login"})
    data = assert_ok(response, 201)
    assert data["userId"] == "alice" and data["username"] == "Alice Liddell"


def test_a_plain_pyjwt_token_without_role_acts_as_a_user(client, db):
    token = hs256(claims(role=...))
    assert_ok(client.get(f"{API}/stats", headers=bearer(token)))
    assert db.session.get(User, "alice").role == "user"
    assert_error(client.post(f"{API}/broadcast", json=BROADCAST_BODY, headers=bearer(token)),
                 403, "FORBIDDEN")
    response = client.post(f"{API}/activity", headers=bearer(token), json={
        "type": "task", "action": "created", "target": "x", "actor": {"userId": "bob"}})
    assert_error(response, 403, "ACTOR_NOT_ALLOWED")


def test_a_token_without_username_goes_by_its_sub(client, db):
    token = hs256(claims(username=...))
    response = client.post(f"{API}/activity", headers=bearer(token),
                           json={"type": "comment", "action": "commented", "target": "Fix login"})
    data = assert_ok(response, 201)
    assert data["userId"] == "alice" and data["username"] == "alice"
    assert db.session.get(User, "alice").username == "alice"


def test_a_token_with_only_sub_iat_and_exp_is_accepted(client):
    now = int(time.time())
    token = hs256({"sub": "carol", "iat": now, "exp": now + 60})
    data = assert_ok(client.post(f"{API}/notify/bob", json=NOTIFY_BODY, headers=bearer(token)), 201)
    assert data["type"] == "mention" and data["read"] is False


@pytest.mark.parametrize("role", ["user", "service"])
def test_only_admins_may_broadcast(client, auth, role):
    response = client.post(f"{API}/broadcast", json=BROADCAST_BODY, headers=auth("someone", role))
    error = assert_error(response, 403, "FORBIDDEN")
    assert set(error) == {"code", "message"}
    assert "WWW-Authenticate" not in response.headers


def test_an_admin_may_broadcast(client, auth):
    response = client.post(f"{API}/broadcast", headers=auth("root", "admin"),
                           json={**BROADCAST_BODY, "data": {"window": "2h"}})
    data = assert_ok(response)
    assert data == {"event": "system:maintenance", "message": "Down at 02:00 UTC",
                    "data": {"window": "2h"}, "timestamp": data["timestamp"]}
    assert ISO_Z.match(data["timestamp"])


def test_a_forbidden_broadcast_is_checked_before_the_body(client, auth):
    response = client.post(f"{API}/broadcast", data="{not json", headers=auth("bob"),
                           content_type="application/json")
    assert_error(response, 403, "FORBIDDEN")


def test_a_service_may_name_an_actor_but_a_user_may_not(client, auth):
    body = {"type": "task", "action": "updated", "target": "Fix login",
            "actor": {"userId": "dave", "username": "Dave"}}
    data = assert_ok(client.post(f"{API}/activity", json=body, headers=auth("svc-tasks", "service")),
                     201)
    assert data["userId"] == "dave" and data["username"] == "Dave"
    assert_error(client.post(f"{API}/activity", json=body, headers=auth("bob")),
                 403, "ACTOR_NOT_ALLOWED")


@pytest.mark.parametrize("config_overrides", [{"JWT_DECODE_LEEWAY": 0}])
def test_a_token_accepted_before_is_refused_once_it_expires(client, config_overrides):
    """Verified tokens are remembered, but never past their expiry."""
    now = int(time.time())
    token = hs256(claims(iat=now, exp=now + 2))
    assert_ok(client.get(f"{API}/stats", headers=bearer(token)))
    assert_ok(client.get(f"{API}/stats", headers=bearer(token)))
    time.sleep(max(0.0, now + 2 - time.time()) + 1.1)
    assert_unauthorized(client.get(f"{API}/stats", headers=bearer(token)), "TOKEN_EXPIRED")


def test_a_remembered_token_still_needs_the_role(client):
    token = hs256(claims(role="user"))
    assert_ok(client.get(f"{API}/stats", headers=bearer(token)))
    response = client.post(f"{API}/broadcast", json=BROADCAST_BODY, headers=bearer(token))
    assert_error(response, 403, "FORBIDDEN")


def test_a_token_signed_with_another_secret_is_refused_even_for_a_remembered_subject(client):
    good = hs256(claims())
    assert_ok(client.get(f"{API}/stats", headers=bearer(good)))
    forged = hs256(claims(), secret="another-secret-that-is-long-enough-for-hs256")
    assert_unauthorized(client.get(f"{API}/stats", headers=bearer(forged)), "TOKEN_INVALID")
