"""The web page's defences in a real browser (Debian's Chromium under Playwright).

Sign-in with a hostile `?next=` never takes Chromium off the server's origin; another site's
auto-submitting form neither signs a browser in nor out; the dashboard's CSP refuses a script
injected into the page, and the violation is seen.
"""
from urllib.parse import urlsplit

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the browser fixture reports it (a failure when REQUIRE_SERVICES=1)
    PlaywrightError = Exception

from tests.integration.test_dashboard_browser import (PROBLEMS, browser, no_browser_problems,  # noqa: F401
                                                      sign_in, watch)

# Raw query values, as an attacker's link would carry them.
HOSTILE_NEXT = [
    "/%09/evil.example/", "/%0A/evil.example/", "/%0D/evil.example/", "%09//evil.example/", "//evil.example/",
    "///evil.example/", "/%5Cevil.example/", "%5C%5Cevil.example/", "/%5C/evil.example/", "/%2F%2Fevil.example/",
    "%2F%2Fevil.example/", "/%252F%252Fevil.example/", "https:evil.example", "https://evil.example/",
    "http:%2F%2Fevil.example/", "/%EF%BC%8F%EF%BC%8Fevil.example/", "/%E3%80%82evil.example/",
    "javascript:alert(1)", "/%20/evil.example/", "%20//evil.example/",
]
ATTACKER = "http://attacker.example"


def foreign_requests(context, server_url):
    """Record every request the context makes to another origin (redirects included), and
    abort those the router sees."""
    seen = []
    origin = urlsplit(server_url).netloc
    context.on("request", lambda request: urlsplit(request.url).netloc != origin and seen.append(request.url))
    context.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).netloc == origin
                  else route.abort())
    return seen


def test_sign_in_never_leaves_the_site(browser, live_server):  # noqa: F811
    context = watch(browser.new_context())
    context.set_default_timeout(10000)  # a value that breaks out fails fast, not after 30 s each
    foreign = foreign_requests(context, live_server.url)
    wrong = []
    for raw in HOSTILE_NEXT + ["%2Ftasks%2Ftask_9"]:
        page = context.new_page()
        try:
            page.goto(f"{live_server.url}/signin?next={raw}")
            page.fill("input[name=name]", "Alice")
            with page.expect_navigation():
                page.click("#demo-signin button[type=submit]")
            page.wait_for_selector("body[data-ready=true]")
        except PlaywrightError as exc:
            wrong.append((raw, page.url, exc.message.splitlines()[0]))
            page.close()
            continue
        expected = "/tasks/task_9" if raw == "%2Ftasks%2Ftask_9" else "/"
        if page.url != live_server.url + expected:
            wrong.append((raw, page.url, "landed elsewhere"))
        page.close()
    assert (wrong, foreign) == ([], [])
    context.close()


def attacker_page(context, server_url, action, fields):
    """Serve, as another site, a page whose form posts itself to the server at once."""
    inputs = "".join(f'<input name="{name}" value="{value}">' for name, value in fields.items())
    html = (f'<form method="post" action="{server_url}{action}">{inputs}</form>'
            "<script>document.forms[0].submit()</script>")
    context.route(ATTACKER + "/**", lambda route: route.fulfill(status=200, content_type="text/html", body=html))


def test_another_sites_form_signs_nobody_in(browser, live_server):  # noqa: F811
    context = browser.new_context()
    attacker_page(context, live_server.url, "/signin?next=/", {"name": "Mallory", "role": "admin"})
    page = context.new_page()
    with page.expect_response(lambda r: r.url.startswith(live_server.url + "/signin")) as answer:
        page.goto(ATTACKER + "/")
    assert answer.value.status == 403
    assert not [c for c in context.cookies() if c["name"] == "session" and "token" in c["value"]]
    page.goto(live_server.url + "/")
    assert urlsplit(page.url).path == "/signin"  # still signed out
    context.close()


def test_another_sites_form_signs_nobody_out(browser, live_server):  # noqa: F811
    context, page = sign_in(browser, live_server, "Alice")
    token = page.get_attribute("input[name=csrf_token]", "value")  # even with the page's own token
    PROBLEMS.clear()
    attacker_page(context, live_server.url, "/signout", {"csrf_token": token})
    evil = context.new_page()
    with evil.expect_response(lambda r: r.url == live_server.url + "/signout") as answer:
        evil.goto(ATTACKER + "/")
    assert answer.value.status == 403
    PROBLEMS[:] = [p for p in PROBLEMS if "403" not in p]  # the refused post's own console line
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_attribute("#app", "data-user-id") == "alice"
    with page.expect_navigation():
        page.click(".me button")  # the page's own sign-out form still works
    assert urlsplit(page.url).path == "/signin"


def test_the_csp_refuses_an_injected_script_and_it_is_seen(browser, live_server):  # noqa: F811
    _, page = sign_in(browser, live_server, "Alice")
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.pwned = true";
      document.body.append(script);
      const img = document.createElement("img");
      img.setAttribute("src", "http://evil.example/x.png");
      document.body.append(img);
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.pwned") is None
    assert any("script-src-elem blocked inline" in p for p in PROBLEMS), PROBLEMS
    assert any("img-src blocked http://evil.example/x.png" in p for p in PROBLEMS), PROBLEMS
    PROBLEMS.clear()
