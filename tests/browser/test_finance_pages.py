"""Finance in a real browser: log in, read in a BgMax file through the upload form, see the invoice paid
and the summary's chart, with no Content-Security-Policy complaint on the way.

The invoicing service runs as a real process on a SQLite file and a real Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.test_signup_form import CHROMIUM_ARGS, REPO
from tests.support.bgmax import Payment, bgmax_file
from tests.support.invoicing import ADMIN_PASSWORD, API_TOKEN, AUTH, publish, signup_event, wait_for
from tests.support.servers import RedisServer, free_port, wait_for_port


@pytest.fixture
def invoicing_url(tmp_path: Path, redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_server.url, "INVOICING_PORT": str(port),
           "INVOICING_DATABASE_URL": f"sqlite:///{tmp_path}/invoicing.db", "REGLAB_ENV": "development",
           "REGLAB_API_TOKEN": API_TOKEN, "REGLAB_ADMIN_USER": "ekonomi",
           "REGLAB_ADMIN_PASSWORD": ADMIN_PASSWORD, "OUTBOX_RELAY_POLL_SECONDS": "0.1"}
    log_path = tmp_path / "invoicing.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.invoicing"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            code = process.wait(15)
    assert code in (0, -signal.SIGTERM), log_path.read_text(errors="replace")[-3000:]


@pytest.fixture
def invoice(invoicing_url: str, redis_server: RedisServer) -> dict[str, str]:
    """One invoice of 5 000,00 kr, issued before the browser starts (publishing runs its own event loop)."""
    publish(redis_server.url, signup_event(1, [(1, "rus"), (2, "analytiker")]))

    def invoices() -> list[dict[str, str]]:
        return list(httpx.get(f"{invoicing_url}/api/v1/invoices", headers=AUTH).json())

    [issued] = wait_for(invoices, what="the invoice")
    return issued


@pytest.fixture
def page(invoice: dict[str, str]) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(locale="sv-SE")
        finally:
            browser.close()


def test_finance_reads_in_a_bgmax_file_and_sees_the_invoice_paid_and_the_chart(
        invoicing_url: str, invoice: dict[str, str], page: Page, tmp_path: Path) -> None:
    bgmax = tmp_path / "BGMAX.txt"
    bgmax.write_bytes(bgmax_file(Payment(invoice["ocr"], Decimal("5000.00"), "1", name="Region Jämtland")))

    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{invoicing_url}/payments")
    page.fill("#username", "ekonomi")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Betalningar")
    page.set_input_files("#file", str(bgmax))
    page.get_by_role("button", name="Läs in", exact=True).click()
    expect(page.locator(".alert.ok")).to_contain_text("1 betalningar matchade på OCR")

    page.goto(f"{invoicing_url}/invoices/{invoice['number']}")
    expect(page.locator(".lead .badge")).to_have_text("Betald")
    expect(page.locator("ol.timeline")).to_contain_text("Bankgiro (BgMax)")

    page.goto(f"{invoicing_url}/summary?year=2018")
    page.select_option("#network", "rus")
    page.fill("#amount", "45 000")
    page.get_by_role("button", name="Spara kostnad").click()
    expect(page.locator(".alert.ok")).to_have_text("Kostnaden är sparad.")
    expect(page.locator("svg rect.bar-costs").first).to_be_visible()
    assert problems == []
