"""Tokens as the main DevTracker app issues them: HS256 JWTs signed with JWT_SECRET_KEY."""
import time

import jwt

# The secret of every app and server the tests start (tests/conftest.py, LiveServer).
SECRET = "test-secret-that-is-long-enough-for-hs256"


def sign(payload, secret=SECRET, algorithm="HS256"):
    """Sign exactly these claims (for tokens built claim by claim)."""
    return jwt.encode(payload, secret, algorithm=algorithm)


def mint_token(user_id, role="user", username=None, expires_in=3600, secret=SECRET, **claims):
    """A token for `user_id`: `sub`, `username` (default the user id), `role`, `iat` and `exp`
    (`expires_in` seconds from now; None: no `exp`). `claims` add to or replace any of them."""
    now = int(time.time())
    payload = {"sub": user_id, "username": username or user_id, "role": role, "iat": now}
    if expires_in is not None:
        payload["exp"] = now + expires_in
    payload.update(claims)
    return sign(payload, secret)
