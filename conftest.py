import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Run Celery tasks in-process during tests, raising their errors."""
    from callkom.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _english_by_default():
    """Start each test in the default language; a request in French must not leak into the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def pytest_collection_modifyitems(items):
    """Run browser tests last: Playwright's sync API keeps an event loop running while it is open."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one module's browser tests."""
    from callkom.browser import chromium_available, launch
    from tenants.testing import require_service

    require_service("Chromium (/usr/bin/chromium)", chromium_available())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, so Django sees the test's ORM calls as coming
    # from async code; they are not, and the guard must let them through while the browser is open.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
