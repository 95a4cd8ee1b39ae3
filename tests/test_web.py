"""Server-rendered pages: sign-in, the pages behind it, vendored browser builds, HTML errors."""
import os
import re
import secrets

import flask
import pytest

from devtracker import create_app
from tests.conftest import make_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(client, path="/signin"):
    """The CSRF token the page at `path` puts in its forms (made for this client's session)."""
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, url="/signin", **form):
    """Post the sign-in form the way the page does: with the session's form token."""
    return client.post(url, data={"csrf_token": form_token(client), **form})


def test_pages_redirect_to_sign_in_until_signed_in(client):
    response = client.get("/tasks/task_1")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=/tasks/task_1")


def test_the_demo_sign_in_mints_a_token_and_opens_the_dashboard(client):
    response = sign_in(client, "/signin?next=/tasks/task_7", name="Alice Smith", role="admin")
    assert response.status_code == 302 and response.headers["Location"] == "/tasks/task_7"
    page = client.get("/tasks/task_7").get_data(as_text=True)
    assert 'data-user-id="alice-smith"' in page and 'data-role="admin"' in page and 'data-task-id="task_7"' in page
    assert client.post("/signout", data={"csrf_token": form_token(client, "/")}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_token_from_the_main_app_signs_in(client, token_for):
    response = sign_in(client, token=token_for("bob", username="Bob"))
    assert response.status_code == 302
    assert 'data-user-id="bob"' in client.get("/").get_data(as_text=True)


def test_signed_in_pages_which_carry_the_token_are_never_cached(client, token_for):
    sign_in(client, token=token_for("bob", username="Bob"))
    for path in ("/", "/tasks/task_1"):
        assert client.get(path).headers["Cache-Control"] == "no-store"


def test_a_bad_token_is_refused_with_the_reason(client):
    response = sign_in(client, token="not-a-token")
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)


def test_an_open_redirect_is_not_followed(client):
    response = sign_in(client, "/signin?next=//evil.example/", name="Alice")
    assert response.headers["Location"] == "/"


@pytest.fixture
def production_client(tmp_path):
    config = make_config(f"sqlite:///{tmp_path / 'p.db'}", DEMO_LOGIN_ENABLED=False)
    app = create_app(config)
    yield app.test_client()
    app.extensions["devtracker.namespace"].stop()


def test_production_has_no_demo_sign_in(production_client, token_for):
    page = production_client.get("/signin").get_data(as_text=True)
    assert 'id="demo-signin"' not in page and 'name="token"' in page
    refused = sign_in(production_client, name="Mallory", role="admin")
    assert refused.status_code == 400
    assert production_client.get("/").status_code == 302  # still not signed in


def test_the_production_config_turns_demo_sign_in_off_and_needs_a_secret(monkeypatch):
    from devtracker.config import ConfigError, load_config
    monkeypatch.setenv("JWT_SECRET_KEY", secrets.token_urlsafe(32))
    assert load_config("production").DEMO_LOGIN_ENABLED is False
    monkeypatch.setenv("JWT_SECRET_KEY", "short")
    with pytest.raises(ConfigError):
        load_config("production")


def test_socket_io_client_is_served_from_node_modules(client):
    if not os.path.isdir(os.path.join(ROOT, "node_modules", "socket.io-client")):
        from tests.conftest import require_service
        require_service("socket.io-client in node_modules", "run npm ci (make test does)")
    response = client.get("/vendor/socket.io-client/socket.io.esm.min.js")
    assert response.status_code == 200 and b"export" in response.data
    assert client.get("/vendor/left-pad/index.js").status_code == 404


def test_browsers_get_an_html_error_page_and_the_api_an_envelope(client):
    page = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/api/v1/realtime/nope", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "NOT_FOUND"


def test_rest_calls_do_not_open_the_dashboard_session(client, token_for):
    """The cookie session is the dashboard's: a signed-in browser's REST calls neither read nor
    rewrite it, and the pages still see it afterwards."""
    sign_in(client, name="Alice Smith", role="user")
    token = token_for("alice-smith", username="Alice Smith")
    with client:
        response = client.get("/api/v1/realtime/notifications", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert flask.session.__class__.__name__ == "NullSession"
    assert "Set-Cookie" not in response.headers
    assert 'data-user-id="alice-smith"' in client.get("/").get_data(as_text=True)
