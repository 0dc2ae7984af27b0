"""The Conta Azul consent in a real headless Chromium: open Aprova's start link (its cookie binds the flow to this
browser), click Autorizar (or Negar) at Conta Azul and land back on Aprova.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the ``selenium`` package (dev extra); the module
is skipped without them. Selenium calls block, so they run in a worker thread while the app, LocalSlack and the
sandbox keep serving on this test's event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from bot.dev import slack_payloads as payloads
from tests.bot.test_contaazul_connection import command, connect_url
from tests.harness import CFO, running_aprova

try:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver import ChromeOptions, ChromeService, Remote
    from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.client_config import ClientConfig
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the suite also runs without the dev extra
    Remote = None

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
TIMEOUT = 20  # seconds: the bound on any one browser step (start, command, page load, wait)

if Remote is None:
    pytest.skip("selenium is not installed (pip install -e '.[dev]')", allow_module_level=True)
if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
    pytest.skip(
        f"{CHROMIUM} or {CHROMEDRIVER} missing (apt-get install chromium chromium-driver)", allow_module_level=True
    )

pytestmark = pytest.mark.anyio

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",  # everything here is on loopback
    "--lang=pt-BR",
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the browser adds nothing database-specific, and PostgreSQL runs the same flow over httpx."""
    return f"sqlite:///{tmp_path / 'aprova.db'}"


@dataclass(frozen=True)
class Consent:
    company: str
    buttons: list[str]


class Browser:
    """Blocking helpers over one Chromium session; call them through ``anyio.to_thread.run_sync``."""

    def __init__(self, driver: Remote) -> None:
        self.driver = driver

    def open_consent(self, url: str) -> Consent:
        self.driver.get(url)
        wait = WebDriverWait(self.driver, TIMEOUT)
        company = wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "strong.empresa")))
        buttons = self.driver.find_elements(By.CSS_SELECTOR, "form button[type=submit]")
        return Consent(company=company.text, buttons=[b.text for b in buttons if b.is_displayed() and b.is_enabled()])

    def decide(self, button: str, expected: str) -> tuple[str, str]:
        """Click a consent button, wait for Aprova's callback page to say ``expected``; return its URL and text."""
        self.driver.find_element(By.XPATH, f"//form//button[normalize-space()='{button}']").click()
        body = (By.TAG_NAME, "body")
        try:
            WebDriverWait(self.driver, TIMEOUT).until(expected_conditions.text_to_be_present_in_element(body, expected))
        except TimeoutException:
            raise AssertionError(
                f"no {expected!r} within {TIMEOUT}s; at {self.driver.current_url}: {self.driver.page_source[:500]}"
            ) from None
        return self.driver.current_url, self.driver.find_element(*body).text


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium (own profile under tmp_path), quit after the test."""
    options = ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "pt-BR,pt"})
    options.page_load_strategy = "normal"
    service = ChromeService(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    service.start()  # bounded by selenium: about 20 s of polling, then an error
    try:
        executor = ChromiumRemoteConnection(
            remote_server_addr=service.service_url,
            vendor_prefix="goog",
            browser_name="chrome",
            ignore_proxy=True,
            client_config=ClientConfig(remote_server_addr=service.service_url, timeout=TIMEOUT),
        )
        driver = Remote(command_executor=executor, options=options)
    except BaseException:
        service.stop()
        raise
    try:
        driver.set_page_load_timeout(TIMEOUT)
        driver.set_script_timeout(TIMEOUT)
        yield Browser(driver)
    finally:
        try:
            driver.quit()
        finally:
            service.stop()


async def test_admin_authorizes_in_chromium(session_factory, clock, browser):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova:
        assert aprova.sandbox is not None
        company = aprova.sandbox.state.company.razao_social
        url = connect_url(await command(aprova, "connect"))

        consent = await anyio.to_thread.run_sync(browser.open_consent, url)
        assert consent == Consent(company=company, buttons=["Autorizar", "Negar"])

        landed, text = await anyio.to_thread.run_sync(browser.decide, "Autorizar", "Conta Azul conectado")
        assert landed.startswith(f"{aprova.http.base_url}/contaazul/oauth/callback?")
        assert f"Conta Azul conectado: {company}" in text
        # Chromium kept the start link's cookie through Conta Azul and back (the callback needs it), then dropped it.
        assert await anyio.to_thread.run_sync(browser.driver.get_cookie, "aprova_oauth_browser") is None
        await aprova.settle()

        info = await aprova.books.connection(payloads.TEAM_ID)
        assert info is not None and not info.needs_reconnect
        assert (info.company_name, info.connected_by) == (company, CFO)
        [confirmation] = aprova.slack.messages(aprova.slack.dm_channel(CFO))
        assert company in confirmation["text"]


async def test_admin_denies_in_chromium(session_factory, clock, browser):
    async with running_aprova(session_factory, clock, contaazul=True) as aprova:
        url = connect_url(await command(aprova, "connect"))
        consent = await anyio.to_thread.run_sync(browser.open_consent, url)
        assert "Negar" in consent.buttons

        landed, text = await anyio.to_thread.run_sync(browser.decide, "Negar", "negada")
        assert landed.startswith(f"{aprova.http.base_url}/contaazul/oauth/callback?")
        assert "error=access_denied" in landed
        assert "A autorização foi negada no Conta Azul. Nada foi conectado." in text
        await aprova.settle()

        assert await aprova.books.connection(payloads.TEAM_ID) is None
        assert aprova.slack.messages(aprova.slack.dm_channel(CFO)) == []
