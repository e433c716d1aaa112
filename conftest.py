import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Run Celery tasks in-process during tests, raising their errors."""
    from callkom.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session's browser tests."""
    from callkom.browser import chromium_available, launch
    from tenants.testing import require_service

    require_service("Chromium (/usr/bin/chromium)", chromium_available())
    # Playwright's sync API refuses to start inside a running event loop; Django's async-unsafe guard
    # must let the live server's ORM calls through from Playwright's thread.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
