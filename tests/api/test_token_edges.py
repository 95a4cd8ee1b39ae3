"""Token edge cases (issue: hardening): claims PyJWT accepts but the server cannot hold, refresh
tokens, non-numeric expiries, tokens without `exp`. REST, the handshake and `authenticate`
must give the same answer: a 401 envelope, never a 500 or a silent socket."""
import base64
import hashlib
import hmac
import json
import time

import pytest
from flask_jwt_extended import create_refresh_token

from tests.conftest import SECRET
from tests.helpers import assert_error
from tests.realtime.support import API, ack_error, drain
from tests.realtime.support import sockets  # noqa: F401  (fixture)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(payload_text, secret=SECRET):
    """A correctly signed HS256 token whose payload is exactly `payload_text` (which PyJWT's
    encoder would not write: Infinity, NaN)."""
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(payload_text.encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def claims_token(**claims):
    base = {"sub": "alice", "username": "Alice", "iat": int(time.time()), "exp": int(time.time()) + 3600}
    base.update(claims)
    return raw_token(json.dumps({k: v for k, v in base.items() if v is not None}))


BAD = {
    "exp_year_33658": lambda: claims_token(exp=10**12),
    "exp_float_1e12": lambda: claims_token(exp=1e12),
    "exp_2_pow_64": lambda: claims_token(exp=2**64),
    "exp_infinity": lambda: claims_token(exp=float("inf")),
    "exp_nan": lambda: claims_token(exp=float("nan")),
    "exp_string": lambda: claims_token(exp=str(int(time.time()) + 3600)),
    "iat_infinity": lambda: claims_token(iat=float("inf")),
    "username_control": lambda: claims_token(username="Al\x00ice"),
    "username_surrogate": lambda: raw_token('{"sub":"alice","username":"\\ud800","exp":%d}'
                                            % (time.time() + 3600)),
    "sub_trailing_newline": lambda: claims_token(sub="alice\n"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_odd_claims_are_a_401_on_rest(client, kind):
    response = client.get(f"{API}/stats", headers={"Authorization": f"Bearer {BAD[kind]()}"})
    assert_error(response, 401, "TOKEN_INVALID")


@pytest.mark.parametrize("kind", sorted(BAD))
def test_odd_claims_refuse_the_handshake(client, sockets, kind):
    sock = sockets.open({"token": BAD[kind]()})
    assert sock.is_connected() is False
    assert client.get(f"{API}/health").get_json()["data"]["stats"]["connectedSockets"] == 0


@pytest.mark.parametrize("kind", sorted(BAD))
def test_odd_claims_are_answered_by_authenticate(sockets, kind):
    sock = sockets.legacy()
    error = ack_error(sock.emit("authenticate", BAD[kind](), callback=True), "TOKEN_INVALID")
    assert drain(sock)[0]["args"][0] == {"success": False, "error": error}
    assert sock.is_connected()


def test_a_refresh_token_is_refused_on_rest_and_on_sockets_alike(app, client, sockets):
    with app.app_context():
        token = create_refresh_token(identity="alice")
    assert_error(client.get(f"{API}/stats", headers={"Authorization": f"Bearer {token}"}),
                 401, "TOKEN_INVALID")
    assert sockets.open({"token": token}).is_connected() is False
    ack_error(sockets.legacy().emit("authenticate", token, callback=True), "TOKEN_INVALID")
    ack_error(sockets.connect("alice").emit("auth:refresh", token, callback=True), "TOKEN_INVALID")


def test_a_token_without_exp_works_unless_exp_is_required(app, client, sockets):
    token = claims_token(exp=None)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/stats", headers=headers).status_code == 200
    app.config["TOKEN_REQUIRE_EXP"] = True
    app.extensions.pop("devtracker.verified_tokens", None)
    assert_error(client.get(f"{API}/stats", headers=headers), 401, "TOKEN_INVALID")
    assert sockets.open({"token": token}).is_connected() is False
    ack_error(sockets.legacy().emit("authenticate", token, callback=True), "TOKEN_INVALID")


def test_production_requires_exp_by_default(monkeypatch):
    from devtracker.config import DevelopmentConfig, ProductionConfig

    monkeypatch.delenv("TOKEN_REQUIRE_EXP", raising=False)
    assert ProductionConfig().TOKEN_REQUIRE_EXP is True
    assert DevelopmentConfig().TOKEN_REQUIRE_EXP is False
    monkeypatch.setenv("TOKEN_REQUIRE_EXP", "false")
    assert ProductionConfig().TOKEN_REQUIRE_EXP is False


@pytest.mark.parametrize("cursor", ["9" * 5000, "1" * 31, "١٢٣", "12\n", -1, 1.5, True])
def test_a_cursor_out_of_range_refuses_the_handshake_with_a_clear_error(sockets, cursor):
    sock = sockets.open({"token": sockets.token("alice"), "lastActivityId": cursor})
    assert sock.is_connected() is False
    ack_error(sockets.legacy().emit("authenticate", {"token": sockets.token("alice"),
                                                      "lastNotificationId": cursor}, callback=True),
              "VALIDATION_ERROR")
