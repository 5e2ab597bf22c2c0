"""The web UI end to end in headless Chromium (Debian's, driven by Playwright; no browser
download) against a real server with Basic auth: run a flow from its page's form and watch its
logs arrive live, restart a failed execution from its page, keep list filters across Back.

Every page visited is written as a screenshot under ``test-artifacts/ui/``; a request to any
host but 127.0.0.1 fails the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.acceptance.conftest import LannerServer, skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "ui"
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.parametrize("lanner_server", ["sqlite"], indirect=True)

LIVE_FLOW = """\
id: live
namespace: {ns}
inputs:
  - id: who
    type: STRING
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.who }}}}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
  - id: later
    type: io.kestra.plugin.core.log.Log
    message: after the nap
  - id: rest
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
"""

MANY_LINES = 100_000
LOUD_TIMEOUT_S = 300  # generous: the machine is shared; no timing is asserted
LOUD_FLOW = """\
id: loud
namespace: {ns}
tasks:
  - id: count
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - seq 1 {lines}
"""

FAILING_FLOW = """\
id: failing
namespace: {ns}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the contract check broke
"""


def chromium_path() -> str:
    for path in CHROMIUM_PATHS:
        if Path(path).exists():
            return path
    found = shutil.which("chromium")
    if found is None:
        skip_or_fail("Debian's chromium is not installed (.ci/run installs it)")
    return found


@pytest.fixture
def browser_page(lanner_server: LannerServer) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (the test extra has it)")
    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        context = browser.new_context(
            http_credentials={
                "username": lanner_server.username,
                "password": lanner_server.password,
            },
            viewport={"width": 1280, "height": 900},
        )

        def guard(route: Any) -> None:
            if urlsplit(route.request.url).hostname != "127.0.0.1":
                outside.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            yield page
        finally:
            context.close()
            browser.close()
    assert outside == [], f"requests left 127.0.0.1: {outside}"


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def deploy(server: LannerServer, source: str) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/flows",
        content=source,
        headers={"Content-Type": "application/x-yaml"},
        auth=server.auth,
    )
    assert response.status_code == 200, response.text


EDITOR_START = """\
id: edited
namespace: {ns}
tasks:
  - id: hello
    type: """


def editor_text(page: Any) -> str:
    return str(page.evaluate("window.lannerEditor.state.doc.toString()"))


def test_deploy_a_flow_in_the_editor_with_completions(
    lanner_server: LannerServer, browser_page: Any, unique_namespace: str
) -> None:
    page = browser_page
    page.goto(f"{lanner_server.url}/ui/main/flows/new?namespace={unique_namespace}")
    page.locator("#editor .cm-editor").wait_for()
    shoot(page, "flow-new")
    start = EDITOR_START.format(ns=unique_namespace)
    page.evaluate(
        "(text) => { const v = window.lannerEditor; v.dispatch({changes: {from: 0,"
        " to: v.state.doc.length, insert: text}, selection: {anchor: text.length}}); v.focus(); }",
        start,
    )
    # a prefix of the type, then the type picked from the popup (not typed out)
    page.keyboard.type("io.kestra.plugin.core.log.Lo")
    option = page.locator(".cm-tooltip-autocomplete li", has_text="io.kestra.plugin.core.log.Log")
    option.first.wait_for()
    shoot(page, "editor-completion-type")
    option.first.click()
    assert editor_text(page).endswith("    type: io.kestra.plugin.core.log.Log")
    # a property of that type, completed from its JSON schema
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("mess")
    prop = page.locator(".cm-tooltip-autocomplete li", has_text="message")
    prop.first.wait_for()
    shoot(page, "editor-completion-property")
    prop.first.click()
    page.keyboard.type("written in the editor")
    assert editor_text(page).endswith(
        "    type: io.kestra.plugin.core.log.Log\n    message: written in the editor"
    ), editor_text(page)
    # a value the property's schema enumerates
    page.keyboard.press("Enter")
    page.keyboard.type("level: WA")
    value = page.locator(".cm-tooltip-autocomplete li", has_text="WARN")
    value.first.wait_for()
    value.first.click()
    assert editor_text(page).endswith("\n    level: WARN"), editor_text(page)
    # a bad property shows inline, at its line, from the validate endpoint
    page.keyboard.press("Enter")
    page.keyboard.type("colour: red")
    page.locator(".cm-lintRange-error").first.wait_for()
    page.locator(".cm-lint-marker-error").first.wait_for()
    shoot(page, "editor-inline-error")
    for _ in range(len("colour: red")):
        page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.wait_for_function("document.querySelectorAll('.cm-lintRange-error').length === 0")
    page.click("#editor button")
    page.wait_for_url(f"**/ui/main/flows/{unique_namespace}/edited")
    stored = httpx.get(
        f"{lanner_server.url}/api/v1/flows/{unique_namespace}/edited", auth=lanner_server.auth
    ).json()
    assert stored["tasks"][0]["type"] == "io.kestra.plugin.core.log.Log"
    assert stored["tasks"][0]["message"] == "written in the editor"
    assert stored["tasks"][0]["level"] == "WARN"
    # edit the saved flow on its page: a new revision
    page.locator("#editor .cm-editor").wait_for()
    page.evaluate(
        "() => { const v = window.lannerEditor; const text = v.state.doc.toString();"
        " v.dispatch({changes: {from: 0, to: text.length,"
        " insert: text.replace('written in the editor', 'edited again')}}); }"
    )
    page.click("#editor button")
    page.locator("h1 small a", has_text="revision 2").wait_for()
    shoot(page, "flow-edited")


def test_run_a_flow_from_its_form_and_watch_logs_arrive(
    lanner_server: LannerServer, browser_page: Any, unique_namespace: str
) -> None:
    page = browser_page
    deploy(lanner_server, LIVE_FLOW.format(ns=unique_namespace))
    page.goto(f"{lanner_server.url}/ui/main/flows/{unique_namespace}/live")
    shoot(page, "flow")
    # the topology zooms and pans (its viewBox), and resets to the whole flow
    whole = page.get_attribute("svg.topology", "viewBox")
    page.click("button[data-zoom='zoom in']")
    zoomed = page.get_attribute("svg.topology", "viewBox")
    assert zoomed != whole
    assert float(zoomed.split()[2]) < float(whole.split()[2])
    box = page.locator("svg.topology").bounding_box()
    page.mouse.move(box["x"] + 50, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 10, box["y"] + 10, steps=4)
    page.mouse.up()
    assert page.get_attribute("svg.topology", "viewBox") != zoomed
    page.click("button[data-zoom='whole flow']")
    assert [float(v) for v in page.get_attribute("svg.topology", "viewBox").split()] == [
        float(v) for v in whole.split()
    ]
    page.fill("input[name=who]", "ada")
    page.click("#execute button")
    page.wait_for_url(f"**/ui/main/executions/{unique_namespace}/live/*")
    assert page.get_attribute("#execution", "data-live") == "true"
    page.evaluate("window.__sameDocument = true")
    page.locator("#logs").get_by_text("after the nap").wait_for()
    # the line came over the live stream, into this same document (no reload yet)
    assert page.evaluate("window.__sameDocument === true")
    shoot(page, "execution-running")
    page.locator("#state .state-success").wait_for()
    page.wait_for_function("document.getElementById('ended').textContent !== ''")  # reloaded
    assert page.get_attribute("#execution", "data-live") == "false"
    assert page.locator("#logs").get_by_text("hello ada").count() == 1
    assert page.locator("#logs").get_by_text("after the nap").count() == 1
    assert page.locator("#taskruns .bar.state-success").count() == 4
    shoot(page, "execution-success")


def test_restart_a_failed_execution_from_its_page(
    lanner_server: LannerServer, browser_page: Any, unique_namespace: str
) -> None:
    page = browser_page
    deploy(lanner_server, FAILING_FLOW.format(ns=unique_namespace))
    created = httpx.post(
        f"{lanner_server.url}/api/v1/executions/{unique_namespace}/failing",
        params={"wait": "true"},
        auth=lanner_server.auth,
    ).json()
    assert created["state"]["current"] == "FAILED"
    page.goto(f"{lanner_server.url}{urlsplit(created['url']).path}")
    assert page.locator(".failure").get_by_text("the contract check broke").count() >= 1
    assert page.text_content("#attempt") == "1"
    shoot(page, "execution-failed")
    page.click("button[data-action=restart]")
    page.wait_for_function("document.getElementById('attempt').textContent === '2'")
    page.locator("#state .state-failed").wait_for()
    shoot(page, "execution-restarted")
    # change the state of the failed execution from the same page
    page.select_option("#change-state select[name=state]", "WARNING")
    page.click("#change-state button")
    page.locator("#state .state-warning").wait_for()
    after = httpx.get(
        f"{lanner_server.url}/api/v1/executions/{created['id']}", auth=lanner_server.auth
    ).json()
    assert after["state"]["current"] == "WARNING"
    shoot(page, "execution-changed-state")


@pytest.mark.slow
def test_a_hundred_thousand_log_lines_scroll_without_freezing(
    lanner_server: LannerServer, browser_page: Any, unique_namespace: str
) -> None:
    page = browser_page
    deploy(lanner_server, LOUD_FLOW.format(ns=unique_namespace, lines=MANY_LINES))
    created = httpx.post(
        f"{lanner_server.url}/api/v1/executions/{unique_namespace}/loud",
        params={"wait": "true"},
        auth=lanner_server.auth,
        timeout=LOUD_TIMEOUT_S,
    ).json()
    assert created["state"]["current"] == "SUCCESS", created["state"]
    page.goto(f"{lanner_server.url}{urlsplit(created['url']).path}")
    page.wait_for_function(
        f"(window.lannerLogs && window.lannerLogs.rows.length >= {MANY_LINES})",
        timeout=LOUD_TIMEOUT_S * 1000,
    )
    # every line is in the viewer, only the visible rows are in the DOM
    assert page.locator("#logs .row").count() < 200
    assert "100000" not in (page.text_content("#logs") or "")
    page.locator("#logs").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    page.locator("#logs .row span", has_text="100000").first.wait_for()
    assert page.locator("#logs .row").count() < 200
    shoot(page, "execution-100k-lines")
    # the level filter applies to all 100,000 lines at once, and keeps the place in the log
    page.locator("#logs").evaluate("box => { box.scrollTop = 50000 * 18; }")
    page.locator("#logs .row span", has_text="49999").first.wait_for()
    page.uncheck("input[data-level=INFO]")
    page.wait_for_function("document.querySelectorAll('#logs .row.level-INFO').length === 0")
    page.check("input[data-level=INFO]")
    page.locator("#logs .row span", has_text="49999").first.wait_for()


def test_list_filters_survive_back(
    lanner_server: LannerServer, browser_page: Any, unique_namespace: str
) -> None:
    page = browser_page
    deploy(lanner_server, FAILING_FLOW.format(ns=unique_namespace))
    for _ in range(2):
        httpx.post(
            f"{lanner_server.url}/api/v1/executions/{unique_namespace}/failing",
            auth=lanner_server.auth,
        )
    page.goto(f"{lanner_server.url}/ui/main/executions")
    shoot(page, "executions")
    page.fill("input[name=namespace]", unique_namespace)
    page.click(".filters button")
    page.wait_for_url(f"**namespace={unique_namespace}**")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2
    page.locator("table.list tbody tr a code").first.click()
    page.wait_for_url(f"**/ui/main/executions/{unique_namespace}/failing/*")
    page.go_back()
    page.wait_for_url(f"**namespace={unique_namespace}**")
    assert page.input_value("input[name=namespace]") == unique_namespace
    assert page.locator("table.list tbody tr").count() == 2
    for name, path in {
        "dashboard": f"/ui/main/dashboard?namespace={unique_namespace}",
        "flows": "/ui/main/flows",
        "logs": f"/ui/main/logs?namespace={unique_namespace}",
        "namespaces": "/ui/main/namespaces",
        "namespace": f"/ui/main/namespaces/{unique_namespace}",
        "revisions": f"/ui/main/flows/{unique_namespace}/failing/revisions",
    }.items():
        response = page.goto(f"{lanner_server.url}{path}")
        assert response is not None
        assert response.status == 200, path
        shoot(page, name)
