"""The web page's defences: where sign-in may send a browser, which form posts are accepted,
and the security headers on every response.

- `safe_next` lets `?next=` name only a path on this site: anything a browser could read as
  another host (`//x`, `/\\x`, a scheme, a tab or newline it strips) falls back to "/".
- `require_same_site` refuses a sign-in or sign-out form that another site posted (login CSRF):
  Fetch Metadata and Origin must say same origin, and the form must carry the session's token.
- `SecurityHeaders` (WSGI, outermost) gives every response, Socket.IO's included, nosniff,
  DENY framing, a same-origin referrer and a CSP; pages get a CSP that lets the dashboard's
  own scripts, styles and websocket run, with a nonce for the one inline script (the import map).
"""
import hmac
import re
import secrets
from urllib.parse import unquote, urlsplit

from flask import abort, request, session

NEXT_FALLBACK = "/"
MAX_NEXT_LENGTH = 2048
# Printable ASCII but the backslash: no whitespace, no control character, no lookalike letters.
LOCAL_PATH_RE = re.compile(r"/(?!/)[\x21-\x5b\x5d-\x7e]*")
HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
CSRF_SESSION_KEY = "csrf"
CSRF_FIELD = "csrf_token"
NONCE_KEY = "devtracker.csp_nonce"

PAGE_POLICY = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")
# JSON, scripts, stylesheets, Socket.IO packets: nothing in them may load or run anything.
DATA_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
FIXED_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                 ("Referrer-Policy", "same-origin"))


def _is_local_path(value):
    """A path on this site, read the way urlsplit and browsers read it."""
    if not LOCAL_PATH_RE.fullmatch(value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(value):
    """`value` when it names a path on this site, in every percent-decoding of it; else "/"."""
    if not isinstance(value, str) or len(value) > MAX_NEXT_LENGTH:
        return NEXT_FALLBACK
    candidate = value
    for _ in range(4):  # %252F%252F → %2F%2F → //: each layer a browser or proxy may decode
        if not _is_local_path(candidate):
            return NEXT_FALLBACK
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        candidate = decoded
    return NEXT_FALLBACK


def csrf_token():
    """The session's form token, made on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def _host_port(netloc):
    parts = urlsplit("//" + netloc)
    try:
        port = parts.port
    except ValueError:
        return None, None
    return parts.hostname, (None if port in (80, 443) else port)


def _same_origin(origin):
    """Origin names the host this request came to. A Host without a port matches any port:
    proxies often pass the host name alone (nginx's `$host`)."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    origin_host, origin_port = _host_port(parts.netloc)
    host, port = _host_port(request.host)
    if origin_host is None or origin_host != host:
        return False
    return ":" not in request.host.rsplit("]", 1)[-1] or origin_port == port


def require_same_site():
    """Refuse (403) a form post from another site, or one without the session's form token."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        abort(403, "This form must be sent from this site's own page.")
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin):
        abort(403, "This form must be sent from this site's own page.")
    expected = session.get(CSRF_SESSION_KEY)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(
            expected.encode("utf-8", "replace"), given.encode("utf-8", "replace")):
        abort(403, "The form has expired; reload the page and try again.")


def csp_nonce():
    """This request's script nonce, made on first use by a template. It lives in the request's
    environ, not in `g`: an app context can outlive one request (tests, CLI, scripts)."""
    nonce = request.environ.get(NONCE_KEY)
    if nonce is None:
        nonce = request.environ[NONCE_KEY] = secrets.token_urlsafe(18)
    return nonce


def page_policy(nonce=None, host=None):
    """The dashboard's CSP: its own origin only, the websocket of the host it was served from."""
    sockets = f" ws://{host} wss://{host}" if host and HOST_RE.fullmatch(host) else ""
    return PAGE_POLICY.format(nonce=f" 'nonce-{nonce}'" if nonce else "", sockets=sockets)


def _page_headers(response):
    """HTML pages get the dashboard's CSP, with this response's nonce when a template used one."""
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = page_policy(request.environ.get(NONCE_KEY), request.host)
    return response


class SecurityHeaders:
    """WSGI middleware: adds the fixed security headers and, when none is set, the data CSP."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers = list(headers) + [item for item in FIXED_HEADERS if item[0].lower() not in present]
            if "content-security-policy" not in present:
                headers.append(("Content-Security-Policy", DATA_POLICY))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def register_security(app):
    """Security headers on every response; `csrf_token()` and `csp_nonce()` in templates."""
    app.jinja_env.globals.update(csrf_token=csrf_token, csp_nonce=csp_nonce, csrf_field=CSRF_FIELD)
    app.after_request(_page_headers)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
