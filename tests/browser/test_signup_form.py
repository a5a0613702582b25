"""A person signs up in a real browser: a typo in the organisationsnummer, corrected, then the receipt.

The registration service runs as a real process (``python -m services.registration``)
on a SQLite file and a real Redis; Debian's Chromium is driven by Playwright.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.servers import RedisServer, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def registration_url(tmp_path: Path, redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_server.url, "REGISTRATION_PORT": str(port),
           "REGISTRATION_DATABASE_URL": f"sqlite:///{tmp_path}/registration.db", "REGLAB_ENV": "development"}
    log_path = tmp_path / "registration.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.registration"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            code = process.wait(15)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal as its exit status.
    assert code in (0, -signal.SIGTERM), log_path.read_text(errors="replace")[-3000:]
    assert "Application shutdown complete" in log_path.read_text(errors="replace")


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(locale="sv-SE")
        finally:
            browser.close()


def test_a_typo_in_the_org_number_is_shown_beside_it_and_the_corrected_form_gives_a_receipt(
        registration_url: str, page: Page) -> None:
    problems: list[str] = []
    # Console errors other than HTTP statuses (the 422 of the re-shown form, no favicon): e.g. a
    # Content-Security-Policy violation by an inline script or style.
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{registration_url}/")
    expect(page.locator("h1")).to_have_text("Anmälan till Reglabs nätverk")
    page.fill("#org_name", "Region Exempel")
    page.fill("#org_number", "556677-8898")  # the last digit is wrong
    page.fill("#invoice_email", "faktura@region.example")
    page.fill("#street", "Storgatan 1")
    page.fill("#postal_code", "111 22")
    page.fill("#city", "Stockholm")
    page.fill("#buyer_reference", "Anna Andersson")
    page.fill("#contact_name", "Anna Andersson")
    page.fill("#contact_email", "anna@region.example")
    page.check("#network-rus")
    page.check("#network-analytiker")
    page.click("#submit")

    error = page.locator("#field-org_number .field-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Ogiltigt organisationsnummer")
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.locator("#org_number")).to_have_value("556677-8898")
    expect(page.locator("#org_name")).to_have_value("Region Exempel")
    expect(page.locator("#contact_email")).to_have_value("anna@region.example")
    expect(page.locator("#network-rus")).to_be_checked()
    expect(page.locator("#network-analytiker")).to_be_checked()
    expect(page.locator("#network-ung-region")).not_to_be_checked()

    page.fill("#org_number", "556677-8899")
    page.click("#submit")

    expect(page).to_have_url(re.compile(r"/kvitto/[\w-]{20,}$"))
    expect(page.locator("h1")).to_have_text("Tack för er anmälan!")
    rus = page.locator("#membership-rus").inner_text().replace("\u00a0", " ")
    assert "RUS-nätverket" in rus and "Ny" in rus and "4 000,00 kr" in rus
    expect(page.locator("#membership-analytiker")).to_contain_text("Avgiftsfri")
    assert page.locator("#fee-total").inner_text().replace("\u00a0", " ") == "5 000,00 kr"
    expect(page.locator("#receipt-org-number")).to_have_text("556677-8899")
    assert problems == []
