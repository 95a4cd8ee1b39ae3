"""The dashboard in a real browser (Debian's Chromium, driven by Playwright for Python).

Two people in two browser contexts sign in with the demo form, see each other come online,
open the same task, see each other type, get a notification toast, and read it in one tab
while the other tab follows. Every page is saved as a screenshot under test-artifacts/.

The pages run under the server's Content-Security-Policy: every test fails on a CSP violation
or a console error in any page it opened. Waits use locators, never `wait_for_function` (it
evaluates a string with eval, which the policy refuses).
"""
import os
import shutil

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture reports it (a failure when REQUIRE_SERVICES=1)
    expect = None

from tests.conftest import require_service

ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts", "screenshots")
CHROMIUM_CANDIDATES = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (event) =>
  window.__cspViolation(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`));"""
PROBLEMS = []  # CSP violations and console errors of the current test's browser contexts


@pytest.fixture(autouse=True)
def no_browser_problems():
    """Fail a test whose pages reported a CSP violation or a console error."""
    PROBLEMS.clear()
    yield PROBLEMS
    assert PROBLEMS == []


def watch(context):
    """Record the context's CSP violations (the DOM event) and console errors into PROBLEMS."""
    context.expose_function("__cspViolation", lambda text: PROBLEMS.append("CSP: " + text))
    context.add_init_script(REPORT_VIOLATIONS)
    context.on("console", lambda message: message.type == "error" and PROBLEMS.append("console: " + message.text))
    return context


@pytest.fixture
def server_settings():
    return {"PRESENCE_GRACE_SECONDS": 0.5, "TYPING_TIMEOUT_SECONDS": 5}


@pytest.fixture
def browser():
    """Debian's Chromium under Playwright; never a browser download of Playwright's own."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("Playwright for Python", "pip install playwright (make test does)")
    path = os.environ.get("CHROMIUM_PATH") or next((p for p in CHROMIUM_CANDIDATES if shutil.which(p)), None)
    if path is None:
        require_service("Chromium", "apt-get install chromium-headless-shell (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(request):
    """Save screenshots of pages under test-artifacts/screenshots, and of every page on failure."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    pages = {}

    def shot(page, name):
        pages[name] = page
        page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)

    yield shot
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        for name, page in pages.items():
            try:
                page.screenshot(path=os.path.join(ARTIFACTS, f"FAILED-{request.node.name}-{name}.png"), full_page=True)
            except Exception:  # the page may be gone already; the other shots still count
                pass


def sign_in(browser, live_server, name, role="user"):
    context = watch(browser.new_context(viewport={"width": 1360, "height": 860}))
    page = context.new_page()
    response = page.goto(live_server.url + "/")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    page.fill("input[name=name]", name)
    page.select_option("select[name=role]", role)
    page.click("#demo-signin button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")
    return context, page


def person(page, user_id):
    return page.locator(f"#people li.person[data-user-id='{user_id}']")


def test_two_people_collaborate_live(browser, live_server, shots):
    _, alice = sign_in(browser, live_server, "Alice")
    shots(alice, "signin-done-overview-alice")
    bob_context, bob = sign_in(browser, live_server, "Bob")

    # They see each other come online.
    person(alice, "bob").wait_for()
    person(bob, "alice").wait_for()
    assert "online" in person(alice, "bob").inner_text()

    # Both open the same task and see each other viewing it.
    alice.goto(live_server.url + "/tasks/task_42")
    alice.wait_for_selector("body[data-ready=true]")
    bob.goto(live_server.url + "/tasks/task_42")
    bob.wait_for_selector("body[data-ready=true]")
    alice.locator("#viewers li[data-user-id='bob']").wait_for()
    bob.locator("#viewers li[data-user-id='alice']").wait_for()

    # Bob types: Alice sees it, Bob does not see himself; it goes away when he stops.
    bob.focus("#comment-input")
    bob.keyboard.type("Looks good to me")
    expect(alice.locator("#typing")).to_have_text("Bob is typing…")
    assert bob.inner_text("#typing") == ""
    shots(alice, "task-typing-alice")
    bob.fill("#comment-input", "")
    bob.dispatch_event("#comment-input", "input")
    expect(alice.locator("#typing")).to_have_text("")

    # A task update from a service shows up on both task pages.
    svc = live_server.token("svc-tasks", "service")
    live_server.api("POST", "/task/update", svc, json={
        "taskId": "task_42", "action": "status_changed", "ownerId": "alice",
        "task": {"id": "task_42", "title": "Ship the realtime dashboard", "status": "IN_PROGRESS"}})
    for page in (alice, bob):
        expect(page.locator("#task-title")).to_have_text("Ship the realtime dashboard")
    shots(bob, "task-update-bob")

    # A notification: toast and unread count, in every tab of Alice's.
    alice_tab2 = alice.context.new_page()
    alice_tab2.goto(live_server.url + "/")
    alice_tab2.wait_for_selector("body[data-ready=true]")
    live_server.api("POST", "/notify/alice", svc, json={
        "type": "assignment", "title": "New Task Assigned", "message": "You've been assigned to 'API Integration'",
        "taskId": "task_42"})
    alice.locator(".toast", has_text="New Task Assigned").wait_for()
    for page in (alice, alice_tab2):
        expect(page.locator("#unread-count")).to_have_text("1")
    shots(alice, "notification-toast-alice")

    # Mark read in one tab: the other tab's badge clears too.
    alice_tab2.click("#bell-button")
    shots(alice_tab2, "bell-open-alice")
    alice_tab2.click("#mark-all")
    for page in (alice_tab2, alice):
        expect(page.locator("#unread-count")).to_be_hidden()

    # Bob leaves: Alice sees him go from the task, then offline after the grace period.
    bob_context.close()
    alice.locator("#viewers li[data-user-id='bob']").wait_for(state="detached")
    person(alice_tab2, "bob").wait_for(state="detached", timeout=10000)
    shots(alice_tab2, "overview-alice")


def test_an_admin_announcement_shows_as_a_banner(browser, live_server, shots):
    _, admin = sign_in(browser, live_server, "Root Admin", role="admin")
    _, carol = sign_in(browser, live_server, "Carol")
    live_server.api("POST", "/broadcast", live_server.token("root", "admin"), json={
        "event": "system:announcement", "message": "Server maintenance in 10 minutes"})
    for page in (admin, carol):
        page.locator("#banner", has_text="Server maintenance in 10 minutes").wait_for()
    shots(carol, "announcement-carol")


def test_blur_makes_a_person_away_for_the_others(browser, live_server):
    _, dave = sign_in(browser, live_server, "Dave")
    _, erin = sign_in(browser, live_server, "Erin")
    person(erin, "dave").wait_for()
    dave.evaluate("window.dispatchEvent(new Event('blur'))")
    erin.wait_for_selector("#people li.person[data-user-id='dave'][data-status='away']")
    dave.evaluate("window.dispatchEvent(new Event('focus'))")
    erin.wait_for_selector("#people li.person[data-user-id='dave'][data-status='online']")
