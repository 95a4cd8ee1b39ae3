"""Regenerate docs/dashboard.png and docs/task.png: a demo team on a throwaway server.

Usage: .venv/bin/python docs/make_screenshots.py [--help]   (needs Chromium, like the browser tests)
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.integration.server import LiveServer  # noqa: E402
from tests.integration.test_dashboard_browser import CHROMIUM_ARGS, CHROMIUM_CANDIDATES  # noqa: E402


def main():
    """Start a server, sign four people in, create some activity, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="folder for the PNG files")
    args = parser.parse_args()
    chromium = next(p for p in CHROMIUM_CANDIDATES if os.path.exists(p))
    db = os.path.join(tempfile.mkdtemp(), "demo.db")
    srv = LiveServer(f"sqlite:///{db}", os.path.join(os.path.dirname(db), "server.log"),
                     PRESENCE_GRACE_SECONDS=5).start()
    svc = srv.token("svc-tasks", "service", "Task service")
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            pages = {}
            for name in ["Alice Martin", "Bob Chen", "Carol Diaz", "Dan Okafor"]:
                ctx = b.new_context(viewport={"width": 1360, "height": 820})
                pg = ctx.new_page(); pg.goto(srv.url + "/")
                pg.fill("input[name=name]", name); pg.click("#demo-signin button[type=submit]")
                pg.wait_for_selector("body[data-ready=true]"); pages[name] = pg
            pages["Carol Diaz"].goto(srv.url + "/tasks/task_128"); pages["Carol Diaz"].wait_for_selector("body[data-ready=true]")
            pages["Dan Okafor"].evaluate("window.dispatchEvent(new Event('blur'))")
            acts = [("task","created","Realtime dashboard","task_128",{"userId":"bob-chen","username":"Bob Chen"}),
                    ("comment","commented","Looks great, shipping after review","task_128",{"userId":"carol-diaz","username":"Carol Diaz"}),
                    ("project","updated","Q4 roadmap",None,{"userId":"dan-okafor","username":"Dan Okafor"})]
            for t,a,target,task,actor in acts:
                body={"type":t,"action":a,"target":target,"actor":actor}
                if task: body["taskId"]=task
                srv.api("POST","/activity",svc,json=body); time.sleep(0.3)
            srv.api("POST","/task/update",svc,json={"taskId":"task_131","action":"status_changed","ownerId":"alice-martin","task":{"id":"task_131","title":"Presence across nodes","status":"IN_REVIEW"},"actor":{"userId":"bob-chen","username":"Bob Chen"}})
            srv.api("POST","/notify/alice-martin",svc,json={"type":"mention","title":"Carol mentioned you","message":"@alice can you check the typing indicator?","taskId":"task_128"})
            time.sleep(0.3)
            srv.api("POST","/notify/alice-martin",svc,json={"type":"assignment","title":"New Task Assigned","message":"You've been assigned to 'API Integration'","taskId":"task_140"})
            time.sleep(1)
            pages["Alice Martin"].screenshot(path=os.path.join(args.out, "dashboard.png"))
            pg = pages["Bob Chen"]; pg.goto(srv.url + "/tasks/task_128"); pg.wait_for_selector("body[data-ready=true]")
            pages["Carol Diaz"].focus("#comment-input"); pages["Carol Diaz"].keyboard.type("On it")
            pg.locator("#typing", has_text="typing").wait_for()  # no wait_for_function: the CSP refuses eval
            pg.screenshot(path=os.path.join(args.out, "task.png"))
            b.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
