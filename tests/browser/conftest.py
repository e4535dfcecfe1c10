"""Browser tests: headless Chromium (the distribution's package, `make test` installs it)
driven by Playwright against the storefront of the running stack (`storefrontUrl` in
stack.json), which calls the local API and Cognito cross-origin, as it does in AWS.

A failing test leaves a screenshot and the browser console in .local/browser-failures/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from support import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAILURES = REPO / ".local" / "browser-failures"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (apt-get install chromium)",
                    pytrace=False)
    # Playwright cannot download its own browsers here; the sandbox needs user namespaces
    # that containers (and CI as root) do not give.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def storefront(stack) -> str:
    url = stack.get("storefrontUrl")
    assert url, "stack.json has no storefrontUrl: start the stack with infra/stack.py"
    return url.rstrip("/")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def failure_artifacts(request, page):
    """Keeps the console; on failure saves it with a screenshot under .local/browser-failures/."""
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    page.on("requestfailed", lambda r: console.append(f"[requestfailed] {r.method} {r.url}: {r.failure}"))
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(FAILURES / f"{name}.png"), full_page=True)
        except Exception as err:  # noqa: BLE001 (the page may be gone; keep the console)
            console.append(f"[screenshot failed] {err}")
        (FAILURES / f"{name}.console.txt").write_text("\n".join(console) + f"\nURL: {page.url}\n")
