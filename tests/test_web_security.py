"""The web page's defences: sign-in redirects stay on the site, sign-in and sign-out forms
refuse other sites' posts, every response carries the security headers, the session cookie's
flags, and production's refusal of guessable secrets."""
import re
import secrets
from urllib.parse import quote, urlsplit

import pytest

from devtracker import create_app
from devtracker.config import ConfigError, load_config, secret_bits
from devtracker.web.security import safe_next
from tests.conftest import make_config
from tests.test_web import form_token, sign_in

SAFE = ["/", "/tasks/task_7", "/tasks/task_7?tab=updates#c3", "/a/./b/../c", "/@evil.example",
        "/http://evil.example", "/tasks/task%5F7"]
HOSTILE = [
    None, "", "tasks/task_7", "evil.example", "//evil", "///evil", "/\\evil", "\\\\evil", "\\/evil",
    "/\t/evil.example/", "/\n/x", "/\r/x", "\t//evil", " //evil", "/ /evil", "/\x00/evil", "/\x0b/evil",
    "/\x7f/evil", "/%09/evil.example/", "/%0A/x", "/%0D/x", "/%0d%0aSet-Cookie:x=1", "/%2F%2Fevil",
    "/%2f/evil", "%2F%2Fevil", "/%5Cevil", "/%5C%5Cevil", "/%252F%252Fevil", "/%25252F%25252Fevil",
    "https:evil", "https://evil", "http:/evil", "javascript:alert(1)", "JavaScript:alert(1)",
    "data:text/html,x", "/\uff0f\uff0fevil", "/\u2215\u2215evil", "/\u3002evil", "/\u00a0/evil",
    "/\u2028/evil", "/\ufeff/evil", "/\u200b/evil", "/%E2%80%A8/evil", "/%C0%AF%C0%AFevil", "/" + "a" * 3000,
]
CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "none"},
    {"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://localhost.evil.example"},
    {"Origin": "http://127.0.0.1"}, {"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
]
NONCE_RE = re.compile(r'<script type="importmap" nonce="([^"]+)">')


@pytest.mark.parametrize("value", SAFE)
def test_next_keeps_a_path_on_this_site(value):
    assert safe_next(value) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_next_refuses_anything_a_browser_could_read_as_another_site(value):
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", [v for v in HOSTILE if v is not None])
def test_sign_in_redirects_only_to_this_site(client, value):
    """The raw query as an attacker's link carries it, decoded once by the server: never a 500,
    never a Location a browser could read as another host."""
    response = sign_in(client, "/signin?next=" + quote(value, safe="/%:@"), name="Alice")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/"
    assert not urlsplit(location).netloc and not urlsplit(location).scheme


def test_sign_in_still_goes_where_the_page_asked(client):
    response = sign_in(client, "/signin?next=%2Ftasks%2Ftask_7%3Ftab%3Dupdates", name="Alice")
    assert (response.status_code, response.headers["Location"]) == (302, "/tasks/task_7?tab=updates")


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_sign_in_from_another_site_is_refused(client, headers):
    """Login CSRF: another site's form (even one carrying a stolen form token) signs nobody in."""
    token = form_token(client)
    response = client.post("/signin", data={"csrf_token": token, "name": "Mallory"}, headers=headers)
    assert response.status_code == 403
    assert "token" not in _session_keys(client)
    assert client.get("/").status_code == 302  # still signed out


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": "é"}])
def test_sign_in_without_the_sessions_form_token_is_refused(client, form):
    """No Fetch Metadata and no Origin (curl, old clients): only the page's own token lets it in."""
    form_token(client)
    response = client.post("/signin", data={"name": "Mallory", **form})
    assert response.status_code == 403
    assert client.get("/").status_code == 302


def test_a_token_from_another_session_is_refused(app):
    victim, attacker = app.test_client(), app.test_client()
    form_token(victim)
    response = victim.post("/signin", data={"name": "Mallory", "csrf_token": form_token(attacker)})
    assert response.status_code == 403


def test_a_browser_on_this_site_signs_in_and_out(client):
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    response = client.post("/signin?next=/tasks/task_7", headers=same,
                           data={"csrf_token": form_token(client), "name": "Alice"})
    assert (response.status_code, response.headers["Location"]) == (302, "/tasks/task_7")
    assert client.get("/").status_code == 200
    refused = client.post("/signout", data={"csrf_token": form_token(client, "/")},
                          headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and client.get("/").status_code == 200
    assert client.post("/signout", data={}).status_code == 403
    signed_out = client.post("/signout", headers=same, data={"csrf_token": form_token(client, "/")})
    assert signed_out.status_code == 302 and client.get("/").status_code == 302


@pytest.mark.parametrize("host, origin, allowed", [
    ("realtime.example", "https://realtime.example", True),
    ("realtime.example", "https://realtime.example:8443", True),  # a proxy passed the name alone
    ("realtime.example:8443", "https://realtime.example:8443", True),
    ("realtime.example:443", "https://realtime.example", True),
    ("realtime.example:8443", "https://realtime.example:9443", False),
    ("realtime.example", "https://evil.example", False),
    ("realtime.example", "https://realtime.example.evil.example", False),
    ("realtime.example", "https://realtime.example:99999", False),
    ("realtime.example", "ftp://realtime.example", False),
])
def test_origin_must_name_the_host_the_request_came_to(client, host, origin, allowed):
    page = client.get("/signin", base_url=f"http://{host}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/signin", base_url=f"http://{host}", headers={"Origin": origin},
                           data={"csrf_token": token, "name": "Alice"})
    assert response.status_code == (302 if allowed else 403)


def _session_keys(client):
    with client.session_transaction() as session:
        return set(session)


def _assert_fixed_headers(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert len(response.headers.getlist("Content-Security-Policy")) == 1


def _policy(response):
    return dict((part.split(" ", 1) + [""])[:2] for part in
                (p.strip() for p in response.headers["Content-Security-Policy"].split(";")))


def test_pages_carry_a_csp_with_a_fresh_nonce_for_the_import_map(client):
    nonces = []
    for _ in range(2):
        response = client.get("/signin")
        _assert_fixed_headers(response)
        policy = _policy(response)
        nonce = NONCE_RE.search(response.get_data(as_text=True)).group(1)
        nonces.append(nonce)
        assert policy["script-src"] == f"'self' 'nonce-{nonce}'"
        assert policy["default-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
        assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
        assert policy["connect-src"] == "'self' ws://localhost wss://localhost"
    assert nonces[0] != nonces[1]
    sign_in(client, name="Alice")
    for path in ("/", "/tasks/task_7"):
        page = client.get(path)
        assert "'nonce-" in _policy(page)["script-src"]
        assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
        assert re.search(r"<script(?![^>]*\b(src|nonce)=)", page.get_data(as_text=True)) is None
        assert re.search(r"\son[a-z]+=|\sstyle=", page.get_data(as_text=True)) is None


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/v1/realtime/health", 200),
    ("GET", "/api/v1/realtime/openapi.json", 200),
    ("GET", "/api/v1/realtime/notifications", 401),
    ("GET", "/api/v1/realtime/nope", 404),
    ("DELETE", "/api/v1/realtime/health", 405),
    ("GET", "/static/css/app.css", 200),
    ("GET", "/static/js/dashboard.js", 200),
    ("GET", "/metrics", 200),
    ("POST", "/signin", 403),
    ("GET", "/socket.io/?EIO=4&transport=polling", 200),
    ("GET", "/socket.io/?EIO=4&transport=polling&sid=nope", 400),
])
def test_every_response_carries_the_security_headers(client, method, path, status):
    """JSON, scripts, styles, metrics and Socket.IO packets get the policy that allows nothing."""
    response = client.open(path, method=method)
    assert response.status_code == status
    _assert_fixed_headers(response)
    assert _policy(response) == {"default-src": "'none'", "base-uri": "'none'", "form-action": "'none'",
                                 "frame-ancestors": "'none'"}


def test_redirects_carry_the_security_headers(client):
    response = client.get("/tasks/task_7")
    assert response.status_code == 302
    _assert_fixed_headers(response)
    assert _policy(response)["frame-ancestors"] == "'none'" and _policy(response)["object-src"] == "'none'"


@pytest.mark.parametrize("path", ["/no/such/page", "/tasks/bad%20id"])
def test_html_error_pages_carry_the_page_policy(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    _assert_fixed_headers(response)
    assert _policy(response)["frame-ancestors"] == "'none'"
    nonce = NONCE_RE.search(response.get_data(as_text=True)).group(1)
    assert _policy(response)["script-src"] == f"'self' 'nonce-{nonce}'"


def test_the_session_cookie_is_lax_and_http_only(client):
    cookie = client.get("/signin").headers["Set-Cookie"]
    assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie and "Secure" not in cookie


def test_the_session_cookie_is_secure_when_configured(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 's.db'}", SESSION_COOKIE_SECURE=True))
    try:
        cookie = app.test_client().get("/signin", base_url="https://localhost").headers["Set-Cookie"]
        assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    finally:
        app.extensions["devtracker.namespace"].stop()


def test_production_sends_the_cookie_only_over_https(monkeypatch):
    monkeypatch.setenv("JWT_SECRET_KEY", secrets.token_urlsafe(32))
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    assert load_config("production").SESSION_COOKIE_SECURE is True
    assert load_config("development").SESSION_COOKIE_SECURE is False
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")
    assert load_config("production").SESSION_COOKIE_SECURE is False


WEAK_SECRETS = ["a" * 32, "abcd" * 8, "0123456789abcdef" * 2, "password" * 4, "a" * 31 + "b",
                "abcdefghijklmnopqrstuvwxyz012345", "zyxwvutsrqponmlkjihgfedcba987654", "Tr0ub4dor&3" * 3]


@pytest.mark.parametrize("secret", WEAK_SECRETS)
@pytest.mark.parametrize("name", ["JWT_SECRET_KEY", "SECRET_KEY"])
def test_production_refuses_a_guessable_secret(monkeypatch, name, secret):
    monkeypatch.setenv("JWT_SECRET_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv(name, secret)
    with pytest.raises(ConfigError, match=f"{name} is too easy to guess.*secrets.token_urlsafe\\(48\\)"):
        load_config("production")


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(16), lambda: secrets.token_urlsafe(32),
                                  lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(32)])
def test_production_accepts_a_random_secret(monkeypatch, make):
    for _ in range(200):
        monkeypatch.setenv("JWT_SECRET_KEY", make())
        monkeypatch.setenv("SECRET_KEY", make())
        load_config("production")


def test_random_secrets_score_far_above_guessable_ones():
    assert min(secret_bits(secrets.token_hex(16)) for _ in range(2000)) > 70
    assert max(secret_bits(secret) for secret in WEAK_SECRETS) < 40
