import os
import re
import select
import time

import pytest


def _sleep_without_an_absolute_deadline(seconds: float) -> None:
    """``time.sleep`` by select(): under ``faketime --exclude-monotonic`` (libfaketime 0.9.10), the
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) behind Python's sleep fails with EINVAL, and with it every
    ``subprocess.run(timeout=…)``. select() takes a relative timeout and is not affected."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


if "faketime" in os.environ.get("LD_PRELOAD", ""):
    time.sleep = _sleep_without_an_absolute_deadline


def pytest_configure(config):
    """Give each pytest-xdist worker a Redis database of its own: tests clear the cache (FLUSHDB), which must not
    wipe another worker's channel layer or cache in the middle of its test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    from django.conf import settings

    if not worker.startswith("gw") or not getattr(settings, "REDIS_URL", None):
        return
    url = _redis_url_for_worker(settings.REDIS_URL, int(worker[2:]))
    settings.CACHES["default"]["LOCATION"] = url
    for host in settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]:
        host["address"] = url


def _redis_url_for_worker(url: str, worker: int) -> str:
    match = re.match(r"^(redis://[^/]*)(?:/(\d+))?$", url)
    if match is None:
        raise pytest.UsageError(f"REDIS_URL {url!r}: expected redis://host:port/db")
    return f"{match[1]}/{(int(match[2] or 0) + worker) % 16}"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Hash test passwords with a fast hasher: the production one (PBKDF2, a million rounds) costs a quarter of
    a second per user, and every test class creates several."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Run Celery tasks in-process during tests, raising their errors."""
    from callkom.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True, scope="session")
def _close_sync_thread_connections(django_db_setup):
    """Before the test database is dropped, close the connection of asgiref's shared sync thread.

    Async tests call the ORM through sync_to_async, which (outside async_to_sync) runs in one long-lived worker
    thread; that thread's connection outlives every test and kept PostgreSQL from dropping the test database
    ("being accessed by other users")."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    executor = SyncToAsync.single_thread_executor
    if executor is not None:
        executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture(autouse=True)
def _closed_circuit_breakers():
    """Start each test with every provider's circuit closed: breakers are process-wide, like in production."""
    from voice.gateway import reset_breakers

    reset_breakers()
    yield
    reset_breakers()


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
    from tenants.testing import real_clock_environ, require_service

    require_service("Chromium (/usr/bin/chromium)", chromium_available())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, so Django sees the test's ORM calls as coming
    # from async code; they are not, and the guard must let them through while the browser is open.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # The browser keeps the real clock when the suite runs under faketime: the product's clock is the one
            # under test, and Chromium under faketime takes seconds to load a page.
            browser = launch(playwright, env=real_clock_environ())
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


@pytest.fixture
def asgi_live_server(transactional_db):
    """The whole ASGI application (HTTP and WebSockets) served by daphne in a child process, on a free port."""
    from functools import partial

    from channels.layers import channel_layers
    from channels.testing.live import make_application
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    # The child is forked: it must not inherit an in-memory channel layer whose queues belong to earlier tests'
    # event loops.
    channel_layers.backends.clear()
    process = DaphneProcess("127.0.0.1", partial(make_application, static_wrapper=ASGIStaticFilesHandler),
                            setup=_forked_server_setup)
    process.start()
    if not process.ready.wait(timeout=30):
        process.terminate()
        raise RuntimeError("the ASGI test server did not start")
    yield f"http://127.0.0.1:{process.port.value}"
    process.terminate()
    process.join()


def _forked_server_setup():
    """Give the forked server its own thread for sync_to_async: the parent's died in the fork, and asgiref's
    single-thread executor would otherwise queue every database call forever. The database settings need no
    change: the fork inherits them already pointing at the test database (and opens its own connections)."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
