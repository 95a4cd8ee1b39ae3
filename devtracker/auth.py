"""Tokens and principals (SPEC §1): who is calling, and what their role lets them do."""
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import decode_token as jwt_decode_token
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException

from .errors import AppError, Forbidden, Unauthorized, error_response
from .ids import ID_MESSAGE, ID_RE, ID_RULE, USERNAME_MAX_LENGTH

ROLES = ("user", "service", "admin")
BEARER = {"WWW-Authenticate": "Bearer"}
VERIFIED_CACHE_KEY = "devtracker.verified_tokens"
VERIFIED_CACHE_LIMIT = 10_000
MAX_EXP = 253402300800  # 10000-01-01T00:00:00Z: datetime's limit
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    username: str
    role: str = "user"
    expires_at: datetime | None = None

    @property
    def acts_for_others(self):
        """Services and admins may act on behalf of any user."""
        return self.role in ("service", "admin")


def token_error(code, message):
    """A 401 AppError with the Bearer challenge header."""
    return Unauthorized(message=message, code=code, headers=dict(BEARER))


def _expiry(claims):
    """The token's `exp` as a datetime; None when it has none (refused if TOKEN_REQUIRE_EXP)."""
    exp = claims.get("exp")
    if exp is None:
        if current_app.config["TOKEN_REQUIRE_EXP"]:
            raise token_error("TOKEN_INVALID", "The token must carry an expiry (exp).")
        return None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not 0 < exp < MAX_EXP:
        raise token_error("TOKEN_INVALID", "The token's exp must be a NumericDate (seconds since "
                                           "1970) before the year 10000.")
    return datetime.fromtimestamp(exp, timezone.utc)


def _printable(value):
    """True for a string that is valid Unicode without control characters."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not CONTROL_RE.search(value)


def principal_from_claims(claims):
    """Build a Principal from decoded claims; refuse claims that break SPEC §1."""
    if claims.get("type", "access") != "access":
        raise token_error("TOKEN_INVALID", "Only access tokens are accepted (this one is a "
                                           f"{str(claims.get('type'))[:20]!r} token).")
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not ID_RE.match(user_id):
        raise token_error("TOKEN_INVALID", f"The token's sub must be a user id of {ID_RULE}.")
    role = claims.get("role", "user")
    if role not in ROLES:
        raise token_error("TOKEN_INVALID", f"The token's role must be one of {', '.join(ROLES)}.")
    username = claims.get("username", user_id)
    if (not isinstance(username, str) or not username.strip() or len(username) > USERNAME_MAX_LENGTH
            or not _printable(username)):
        raise token_error("TOKEN_INVALID", "The token's username must be a non-empty string of at "
                                           f"most {USERNAME_MAX_LENGTH} printable characters.")
    return Principal(user_id=user_id, username=username.strip(), role=role, expires_at=_expiry(claims))


def principal_from_token(token):
    """Decode a raw token (socket handshakes); raise a 401 AppError when it is not acceptable."""
    if not isinstance(token, str) or not token.strip():
        raise token_error("TOKEN_MISSING", "A token is required.")
    try:
        claims = jwt_decode_token(token.strip())
    except pyjwt.ExpiredSignatureError:
        raise token_error("TOKEN_EXPIRED", "The token has expired.") from None
    except (pyjwt.InvalidTokenError, JWTExtendedException) as exc:
        raise token_error("TOKEN_INVALID", f"The token is not valid: {exc}") from None
    except (ValueError, TypeError, OverflowError):  # claims PyJWT cannot compare, odd text
        raise token_error("TOKEN_INVALID", "The token is not valid.") from None
    return principal_from_claims(claims)


def current_principal():
    """The principal of the current request (set by `auth_required`)."""
    return g.principal


def _normalise_bearer_scheme():
    """The auth scheme is case-insensitive (RFC 7235): accept `bearer x` like `Bearer x`."""
    header = request.environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer " and not header.startswith("Bearer "):
        request.environ["HTTP_AUTHORIZATION"] = "Bearer " + header[7:]


def _verified_principal():
    """The principal of a bearer token this app has verified before and that has not expired yet.

    Services send the same token with every call; checking its signature and claims again each
    time cost ~0.15 ms a request. A token is the exact bytes that were verified (the signature
    covers all of them), so only expiry can change its verdict: that is checked every time,
    with the same leeway, and anything else goes through the full verification.
    """
    header = request.environ.get("HTTP_AUTHORIZATION")
    if not header:
        return None, None
    principal = current_app.extensions.get(VERIFIED_CACHE_KEY, {}).get(header)
    if principal is not None and principal.expires_at is not None:
        if time.time() > principal.expires_at.timestamp() + current_app.config["JWT_DECODE_LEEWAY"]:
            return None, header
    return principal, header


def _remember_verified(header, principal):
    cache = current_app.extensions.setdefault(VERIFIED_CACHE_KEY, {})
    if len(cache) >= VERIFIED_CACHE_LIMIT:
        cache.clear()
    cache[header] = principal


def auth_required(*roles):
    """Require a valid bearer token; with roles, also one of them (admin always passes)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            _normalise_bearer_scheme()
            principal, header = _verified_principal()
            if principal is None:
                try:
                    verify_jwt_in_request()
                except (ValueError, TypeError, OverflowError):  # claims PyJWT cannot compare
                    raise token_error("TOKEN_INVALID", "The token is not valid.") from None
                principal = principal_from_claims(get_jwt())
                if header is not None:
                    _remember_verified(header, principal)
            if roles and principal.role not in roles and principal.role != "admin":
                raise Forbidden(f"This needs the {' or '.join(roles)} role.")
            g.principal = principal
            from .services.users import remember_principal_safely
            remember_principal_safely(principal)  # the directory is best effort, never a 500
            return view(*args, **kwargs)

        wrapper.auth_roles = roles or ("user", "service", "admin")
        return wrapper

    return decorator


def register_jwt_handlers(jwt):
    """flask-jwt-extended's failures leave in the same envelope as every other error."""

    @jwt.unauthorized_loader
    def missing(reason):
        return error_response(token_error("TOKEN_MISSING", f"A bearer token is required: {reason}."))

    @jwt.invalid_token_loader
    def invalid(reason):
        return error_response(token_error("TOKEN_INVALID", f"The token is not valid: {reason}."))

    @jwt.expired_token_loader
    def expired(_header, _payload):
        return error_response(token_error("TOKEN_EXPIRED", "The token has expired."))

    @jwt.revoked_token_loader
    def revoked(_header, _payload):
        return error_response(token_error("TOKEN_REVOKED", "The token has been revoked."))

    @jwt.token_verification_failed_loader
    def failed(_header, _payload):
        return error_response(token_error("TOKEN_INVALID", "The token failed verification."))


def require_id(value, field):
    """Validate a user or task id from a path or event; raise a 422 naming the field."""
    if not isinstance(value, str) or not ID_RE.match(value):
        raise AppError(message=f"{field} must be {ID_RULE}.",
                       code="VALIDATION_ERROR", status=422,
                       details={field: [ID_MESSAGE]})
    return value
