"""The chat page in a real browser (Debian's Chromium driven by Playwright) against a real server.

Chat itself runs on `ponder serve` with smollm2-135m; attachments run on an in-process server over
the fake backend (what is tested is the page and the perception, not the answer), with the real OCR
and Whisper models.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image, ImageDraw, ImageFont

from ponder.config import ImagesSettings, default_cache_dir
from ponder.server.app import create_app
from tests.conftest import fake_settings
from tests.e2e import free_port

pytestmark = pytest.mark.model
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip

if CHROMIUM is None:
    pytest.skip("chromium is not installed (make test installs it when run as root)", allow_module_level=True)

from playwright.sync_api import FilePayload, Locator, Page, Request, Route, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser.new_page()
        browser.close()


def test_chat_page_streams_answers_and_thinking(browser_page: Page, model_server: str, tmp_path: Path) -> None:
    page = browser_page

    def short_first_answer(route: Route) -> None:
        """Caps the instant answer: a 135M model sampling on another CPU can loop for its whole budget,
        and the second turn, which carries that answer back, would then overflow the 1,024-token context."""
        body = json.loads(route.request.post_data or "{}")
        if body.get("model") == "ponder-instant":
            body["max_tokens"] = 64
        route.continue_(post_data=json.dumps(body))

    page.route("**/v1/chat/completions", short_first_answer)
    page.goto(model_server + "/")
    expect(page.locator("#mode option[value='ponder-thinking']")).to_have_count(1)  # filled from /v1/models

    page.select_option("#mode", "ponder-instant")
    page.fill("#input", "Name three primary colors.")
    page.keyboard.press("Enter")
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".meta")).to_contain_text("tokens", timeout=60_000)
    assert answer.inner_text().strip()
    assert int(answer.locator(".meta").inner_text().split()[0]) <= 64  # the cap reached the engine
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
    page.unroute("**/v1/chat/completions")


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


# --- attachments --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FastAPI]]:
    """The page over the fake backend, with OCR and whisper-tiny.en from the machine's cache."""
    settings = fake_settings(tmp_path_factory.mktemp("web"))
    settings.cache_dir = default_cache_dir()
    settings.images = ImagesSettings(stages=["properties", "ocr"])
    settings.audio.model = "whisper-tiny.en"
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=20)


def sign() -> bytes:
    im = Image.new("RGB", (480, 240), "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=34)
    draw.text((30, 30), "PLATFORM 9", fill="black", font=font)
    draw.text((30, 150), "EXIT 42", fill="black", font=font)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def on_fake(page: Page, url: str) -> Page:
    """The page, its model list loaded from /v1/models, talking to the fake model."""
    page.goto(url + "/")
    expect(page.locator("#mode option[value='fake']")).to_have_count(1)
    page.select_option("#mode", "fake")
    return page


def test_an_uploaded_image_is_sent_perceived_and_annotated(
    browser_page: Page, fake_server: tuple[str, FastAPI], tmp_path: Path
) -> None:
    url, app = fake_server
    page = on_fake(browser_page, url)
    assert page.locator("#mode option[value='whisper-base']").count() == 0  # speech models are not chat models
    data = sign()
    upload: FilePayload = {"name": "sign.png", "mimeType": "image/png", "buffer": data}
    page.set_input_files("#file", files=[upload])
    expect(page.locator("#tray .pending img")).to_have_count(1)
    page.fill("#input", "Which platform?")
    with page.expect_request("**/v1/chat/completions") as sent:
        page.keyboard.press("Enter")
    expect(page.locator("#tray .pending")).to_have_count(0)
    parts = json.loads(sent.value.post_data or "{}")["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "Which platform?"}
    assert parts[1]["type"] == "image_url"
    header, payload = parts[1]["image_url"]["url"].split(",", 1)
    assert header == "data:image/png;base64" and base64.b64decode(payload) == data

    figure = page.locator(".msg.user figure.image").last
    boxes = figure.locator(".box")
    expect(boxes).to_have_count(2, timeout=60_000)
    assert sorted(boxes.all_inner_texts()) == ["EXIT 42", "PLATFORM 9"]
    expect(figure.locator("figcaption")).to_contain_text("480×240 PNG")
    expect(figure.locator("figcaption")).to_contain_text("“PLATFORM 9”")
    prompt = app.state.assistant._backends["fake"].prompts[-1]
    assert "[image 1: 480×240 PNG" in prompt and '"PLATFORM 9"' in prompt  # the server read the image part
    # Each box sits where OCR found the words: the same place, in the image as it is displayed.
    img = figure.locator("img").bounding_box()
    drawn = figure.locator(".box", has_text="EXIT 42").bounding_box()
    assert img is not None and drawn is not None
    scale = img["width"] / 480
    assert abs(drawn["x"] - img["x"] - 30 * scale) < 8 and abs(drawn["y"] - img["y"] - 150 * scale) < 12
    assert drawn["y"] > img["y"] + img["height"] / 2  # "EXIT 42" is in the lower half
    page.screenshot(path=str(tmp_path / "annotated.png"))


def test_dropped_audio_shows_what_was_heard(
    browser_page: Page, fake_server: tuple[str, FastAPI], tmp_path: Path
) -> None:
    url, app = fake_server
    page = on_fake(browser_page, url)
    clip = (Path(__file__).parent / "data" / "capital-of-france.ogg").read_bytes()
    dropped = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "question.ogg", { type: "audio/ogg" }));
            return dt;
        }""",
        base64.b64encode(clip).decode(),
    )
    page.dispatch_event("#log", "dragenter", {"dataTransfer": dropped})
    expect(page.locator("body")).to_have_class("dropping")
    page.dispatch_event("#log", "drop", {"dataTransfer": dropped})
    expect(page.locator("#tray .pending.audio")).to_contain_text("question.ogg")
    with page.expect_request("**/v1/chat/completions") as sent:
        page.click("#send")  # no text: the spoken question is the whole turn
    parts = json.loads(sent.value.post_data or "{}")["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "input_audio"]
    assert parts[1]["input_audio"]["format"] == "ogg" and base64.b64decode(parts[1]["input_audio"]["data"]) == clip
    caption = page.locator(".msg.user figure.audio figcaption").last
    expect(caption).to_contain_text("· en (", timeout=60_000)
    assert caption.inner_text().startswith("2.")  # duration in seconds
    assert "capital of france" in caption.inner_text().lower()
    assert "Spoken: " in app.state.assistant._backends["fake"].prompts[-1]
    page.screenshot(path=str(tmp_path / "heard.png"))


def test_a_conversation_past_the_context_leaves_out_its_oldest_turns(
    browser_page: Page, fake_server: tuple[str, FastAPI]
) -> None:
    """The fake model's context is 256 tokens, a word each. Two 70-word turns fit; with a third the server
    says the context is exceeded, so the page sends the turn again without the first exchange and says
    so. A turn longer than the context alone has nothing to leave out: the server's error is shown."""
    url, app = fake_server
    page = on_fake(browser_page, url)
    sent: list[int] = []

    def count(request: Request) -> None:
        if request.url.endswith("/v1/chat/completions"):
            sent.append(len(json.loads(request.post_data or "{}")["messages"]))

    page.on("request", count)

    def say(words: int, first: str) -> Locator:
        page.fill("#input", " ".join([first] + ["word"] * (words - 1)))
        page.keyboard.press("Enter")
        answer = page.locator(".msg.assistant").last
        expect(answer.locator(".meta, .error").first).not_to_be_empty(timeout=30_000)
        return answer

    for first in ("one", "two"):
        expect(say(70, first).locator(".meta")).to_contain_text("tokens")
    third = say(70, "three")
    expect(third.locator(".meta")).to_contain_text("2 earlier messages left out to fit the model's context")
    assert sent == [1, 3, 5, 3] and not third.locator(".error").count()
    prompt = app.state.assistant._backends["fake"].prompts[-1]
    assert "two word" in prompt and "three word" in prompt and "one word" not in prompt

    fourth = say(300, "four")  # tried as it is (5), without the second exchange (3), then alone (1)
    expect(fourth.locator(".error")).to_contain_text("context")
    assert sent[4:] == [5, 3, 1]
    page.remove_listener("request", count)


def test_a_thinking_answer_past_the_context_is_sent_again_without_the_oldest_turns(
    browser_page: Page, fake_server: tuple[str, FastAPI]
) -> None:
    """Thinking's answer is asked after its trace, in a longer prompt, so a turn that fits can overflow once
    the trace is shown: the stream ends in the server's error. The page clears the trace it showed and
    sends the turn again without the first exchange, as when the server refuses the request at once."""
    url, app = fake_server
    page = on_fake(browser_page, url)
    page.select_option("#mode", "ponder-thinking")
    sent: list[int] = []

    def count(request: Request) -> None:
        if request.url.endswith("/v1/chat/completions"):
            sent.append(len(json.loads(request.post_data or "{}")["messages"]))

    page.on("request", count)
    try:
        for first, words in (("one", 10), ("two", 170)):
            page.fill("#input", " ".join([first] + ["word"] * (words - 1)))
            page.keyboard.press("Enter")
            answer = page.locator(".msg.assistant").last
            expect(answer.locator(".meta, .error").first).not_to_be_empty(timeout=30_000)
        expect(answer.locator(".meta")).to_contain_text("2 earlier messages left out to fit the model's context")
        assert sent == [1, 3, 1] and not answer.locator(".error").count()
        assert answer.locator("details.thinking").count() == 1  # the failed try's trace is gone
        prompt = app.state.assistant._backends["fake"].prompts[-1]
        assert "two word" in prompt and "one word" not in prompt
    finally:
        page.remove_listener("request", count)
