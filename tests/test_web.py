"""The chat page in a real browser (Debian's Chromium driven by Playwright) against a real server."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.model
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip

if CHROMIUM is None:
    pytest.skip("chromium is not installed (make test installs it when run as root)", allow_module_level=True)

from playwright.sync_api import Page, Route, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser.new_page()
        browser.close()


def test_chat_page_streams_answers_and_thinking(browser_page: Page, model_server: str, tmp_path: Path) -> None:
    page = browser_page
    page.goto(model_server + "/")
    expect(page.locator("#mode option[value='ponder-thinking']")).to_have_count(1)  # filled from /v1/models

    page.select_option("#mode", "ponder-instant")
    page.fill("#input", "Name three primary colors.")
    page.keyboard.press("Enter")
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".meta")).to_contain_text("tokens", timeout=60_000)
    assert answer.inner_text().strip()
    assert answer.locator("details.thinking").count() == 0

    page.select_option("#mode", "ponder-thinking")
    page.select_option("#effort", "low")
    page.fill("#input", "And which one is warmest?")
    page.click("#send")
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".meta")).to_contain_text("thinking", timeout=60_000)
    trace = answer.locator("details.thinking .trace")
    assert trace.text_content()  # the trace arrived, kept apart from the answer
    expect(answer.locator("details.thinking")).not_to_have_attribute("open", "")  # folded once answered
    assert len(page.locator(".msg.user").all()) == 2
    page.screenshot(path=str(tmp_path / "chat.png"))


def test_stop_button_cancels_the_stream(browser_page: Page, model_server: str) -> None:
    page = browser_page

    def endless(route: Route) -> None:  # min_tokens masks end-of-generation: only Stop can end it
        body = json.loads(route.request.post_data or "{}")
        limits = {"temperature": 0, "max_tokens": 1000, "min_tokens": 1000}
        route.continue_(post_data=json.dumps({**body, **limits}))

    page.route("**/v1/chat/completions", endless)
    before = httpx.get(model_server + "/health").json()["loaded"]["smollm2-135m"]["cancelled"]
    page.goto(model_server + "/")
    page.select_option("#mode", "smollm2-135m")
    page.fill("#input", "Continue this list up to 1000: 1, 2, 3, 4, 5, 6,")
    page.keyboard.press("Enter")
    answer = page.locator(".msg.assistant").last
    page.wait_for_function(
        "() => [...document.querySelectorAll('.msg.assistant')].pop()?.textContent.length > 40",
        timeout=60_000,
    )
    page.click("#stop")
    expect(answer.locator(".meta")).to_have_text("stopped")
    expect(page.locator("#send")).to_be_enabled()
    page.unroute("**/v1/chat/completions")
    deadline = time.monotonic() + 30
    while httpx.get(model_server + "/health").json()["loaded"]["smollm2-135m"]["cancelled"] == before:
        assert time.monotonic() < deadline, "the server never saw the stream cancelled"
        time.sleep(0.1)
