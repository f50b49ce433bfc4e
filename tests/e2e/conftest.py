"""Browser tests of the admin: Playwright's sync API driving Debian's Chromium against live_server.

Playwright cannot download browsers here; it drives /usr/bin/chromium (CI installs it with apt).
Without it the tests skip locally and fail in CI (HUB_REQUIRE_SERVICES=1).
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from insights.analysis import models_load
from tests.conftest import service_missing

CHROMIUM = Path("/usr/bin/chromium")
# Offline but for the hub (localhost): every other host name fails at once, as on a machine without
# internet, instead of waiting on this machine's DNS. A test that wants another host's file serves it
# with context.route, which answers before any lookup.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", OFFLINE]
ADMIN_USER = "ops"
ADMIN_PASSWORD = "ops-password-123"  # a throwaway user of the test database
# Set HUB_E2E_SCREENSHOTS=/some/dir to keep screenshots of the pages the tests visit.
SCREENSHOTS = os.environ.get("HUB_E2E_SCREENSHOTS")


@pytest.fixture(scope="package", autouse=True)
def _async_unsafe_allowed() -> Iterator[None]:
    """Let the ORM run in this thread while Playwright's event loop is alive (Django's documented
    escape hatch). Package scope sets it before any test's database fixture and leaves the rest of
    the suite with Django's check."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package", autouse=True)
def _comment_models_loaded() -> None:
    """A comment is analysed by a task enqueued on commit, which the tests run inline (eager): in the
    live server's request, so the browser waits for it. The first analysis in a process loads the
    language model (LZMA-compressed, ~1 s alone, 3-11 s on a loaded machine), and a page that saved a
    comment then took longer than the tests' 5 s. A worker loads the models once and keeps them: the
    browser tests' process does too, before any page."""
    models_load()


@pytest.fixture(scope="package")
def playwright(_async_unsafe_allowed: None) -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        service_missing(f"Chromium at {CHROMIUM}")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def admin_credentials(transactional_db: None, django_user_model: Any) -> tuple[str, str]:
    django_user_model.objects.create_superuser(ADMIN_USER, "ops@example.com", ADMIN_PASSWORD)
    return ADMIN_USER, ADMIN_PASSWORD


@pytest.fixture
def context(browser: Browser, live_server: Any) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(5_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def admin_login(page: Page, credentials: tuple[str, str]) -> None:
    """Log in through the admin's own login form, as a person would."""
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Username").fill(credentials[0])
    page.get_by_label("Password").fill(credentials[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.fixture
def admin_page(page: Page, admin_credentials: tuple[str, str]) -> Page:
    admin_login(page, admin_credentials)
    return page


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
