"""The app in a real browser: headless Debian Chromium driven by Playwright, the real model.

One real answer (10-30 s on a CPU): type a question, watch it stream, check the citation
cards, follow a citation, then walk the Library (open a paper, "ask about this paper") and the
Status tab. Screenshots land in ``tests/artifacts/`` (git-ignored); ``docs/`` holds copies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.settings import Settings
from tests.conftest import ROOT, free_port, stop, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.llm, pytest.mark.server]

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for a quiet, offline, sandbox-less headless Chromium (CI runs as root in a container).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
QUESTION = "Which papers propose new methods for optical flow estimation, and what do they do?"


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium through Playwright (never a browser Playwright downloads)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def app(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``assistant ui`` with the real local model over the sample store."""
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium: apt-get install chromium chromium-driver (make test)")
    from assistant.weights import bundled_path

    if not bundled_path(sample_settings.llm).exists():
        pytest.skip("needs the bundled model: run 'assistant model prepare'")
    port = free_port()
    log = tmp_path_factory.mktemp("ui-browser") / "ui.log"
    command = [str(Path(sys.executable).parent / "assistant"), "--store"]
    env = {**os.environ, "ASSISTANT_LLM__PROVIDER": "local", "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, str(sample_settings.store_dir), "ui", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, log, timeout=180)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


def test_chat_library_status_in_a_browser(app: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app)
        page.wait_for_selector("#question textarea", timeout=60_000)

        # Chat: the answer streams, then its citations link to source cards.
        page.fill("#question textarea", QUESTION)
        page.keyboard.press("Enter")
        page.wait_for_selector("#chatbot .streaming", timeout=30_000)
        page.wait_for_function(
            "() => (document.querySelector('#chatbot .streaming')?.innerText || '')"
            ".replace('▍', '').trim().length > 0",
            timeout=180_000,
        )
        page.wait_for_selector("#chatbot .answer-meta", timeout=240_000)
        answer = page.locator("#chatbot .message").last.inner_text()
        assert "first token" in answer
        cards = page.locator("#sources .src-card")
        assert cards.count() >= 1, f"no citation card for: {answer!r}"
        citation = page.locator('#chatbot a[href^="#src-"]').first
        target = citation.get_attribute("href")
        citation.click()
        expect(page.locator(f"{target}.flash")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "chat.png"))
        assert page.locator("#export-md").is_enabled()

        # Library: browse, open a paper, ask about it.
        page.get_by_role("tab", name="Library").click()
        first_title = page.locator("#library-table [data-testid='cell-0-1']")
        first_title.wait_for(timeout=60_000)
        title = first_title.inner_text().strip()
        first_title.click()
        expect(page.locator("#paper h3")).to_have_text(title, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "library.png"))
        page.locator("#ask-paper").click()
        expect(page.locator("#question textarea")).to_have_value(
            f"What does “{title}” propose, and how does it relate to other papers?",
            timeout=10_000,
        )

        # Status: every check passes with the real model.
        page.get_by_role("tab", name="Status").click()
        expect(page.locator("#status .checks tr.ok")).to_have_count(3, timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "status.png"))
        browser.close()
    assert not errors, errors
