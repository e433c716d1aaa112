"""The browser call simulator in a real headless Chromium, against the ASGI server (HTTP + WebSockets)."""

import pytest

from calls import services
from calls.consumers import MediaStreamConsumer
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import User
from tenants.scope import tenant_scope
from tenants.services import tenant_create, user_create

pytestmark = [pytest.mark.browser]
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def alpha(transactional_db, monkeypatch):
    monkeypatch.setattr(MediaStreamConsumer, "provider_mode", "fake")  # inherited by the forked server process
    owner = user_create(email="owner@alpha.example", password=PASSWORD)
    tenant = tenant_create(name="Alpha Cuisines", slug="alpha", legal_name="Alpha SAS", owner=owner)
    user_create(email="charlie@beta.example", password=PASSWORD)
    charlie = User.objects.get(email="charlie@beta.example")
    tenant_create(name="Beta", slug="beta", legal_name="Beta", owner=charlie)
    subprocessor_seed_defaults()
    with tenant_scope(tenant):
        services.demo_scripts_ensure(tenant=tenant)
    return tenant


def log_in(page, server, email):
    page.goto(f"{server}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)  # logged in: the session cookie is set


def test_a_typed_conversation_reaches_a_report(alpha, asgi_live_server, page):
    log_in(page, asgi_live_server, "owner@alpha.example")
    page.goto(f"{asgi_live_server}/t/alpha/calls/try/")
    page.select_option("#sim-script", label="Kitchen appointment (English)")
    page.uncheck("#sim-mic")
    page.click("#sim-start-button")
    page.wait_for_selector("#sim-transcript li.agent")
    assert "virtual assistant" in page.locator("#sim-transcript li.agent").first.inner_text()
    for line in ["My name is Ann Lee", "I need a new kitchen"]:
        count = page.locator("#sim-transcript li.agent").count()
        page.fill("#sim-line", line)
        page.press("#sim-line", "Enter")
        page.wait_for_function(f"document.querySelectorAll('#sim-transcript li.agent').length > {count}")
    assert page.locator("#sim-metrics tr").count() >= 2
    assert page.locator("#sim-requests tr").count() >= 2
    page.click("#sim-stop")
    page.wait_for_selector("#sim-report:not([hidden])", timeout=30_000)
    assert "Ann Lee" in page.locator("#sim-report").inner_text()


def start_typed_call(page, server):
    page.goto(f"{server}/t/alpha/calls/try/")
    page.select_option("#sim-script", label="Kitchen appointment (English)")
    page.uncheck("#sim-mic")
    page.click("#sim-start-button")
    page.wait_for_selector("#sim-transcript li.agent")


def latest_call_id(tenant):
    from calls.models import Call

    with tenant_scope(tenant):
        return Call.objects.order_by("-created_at").values_list("pk", flat=True).first()


def test_the_live_view_shows_a_running_call_and_a_supervisor_takes_over(alpha, asgi_live_server, browser):
    caller = browser.new_context().new_page()
    log_in(caller, asgi_live_server, "owner@alpha.example")
    start_typed_call(caller, asgi_live_server)
    supervisor = browser.new_context().new_page()
    log_in(supervisor, asgi_live_server, "owner@alpha.example")
    supervisor.goto(f"{asgi_live_server}/t/alpha/calls/{latest_call_id(alpha)}/")
    supervisor.wait_for_function("document.getElementById('live-status').textContent.length > 0")
    caller.fill("#sim-line", "My name is Ann Lee")
    caller.press("#sim-line", "Enter")
    supervisor.wait_for_selector("#live-transcript li.caller")
    assert "Ann Lee" in supervisor.locator("#live-transcript").inner_text()
    supervisor.click("button[data-command=take_over]")
    caller.wait_for_selector("#sim-report:not([hidden])", timeout=30_000)
    supervisor.reload()
    assert "Transferred" in supervisor.locator("h1 + p").inner_text()


def test_another_tenants_user_opens_neither_the_call_page_nor_its_sockets(alpha, asgi_live_server, browser):
    owner = browser.new_context().new_page()
    log_in(owner, asgi_live_server, "owner@alpha.example")
    start_typed_call(owner, asgi_live_server)
    call_id = latest_call_id(alpha)
    charlie = browser.new_context().new_page()
    log_in(charlie, asgi_live_server, "charlie@beta.example")
    response = charlie.goto(f"{asgi_live_server}/t/alpha/calls/{call_id}/")
    assert response.status == 404
    close_code = """async (path) => await new Promise((resolve) => {
        const socket = new WebSocket(location.origin.replace('http', 'ws') + path);
        socket.onclose = (event) => resolve(event.code);
    })"""
    assert charlie.evaluate(close_code, f"/ws/calls/{call_id}/live/") == 4403
    assert charlie.evaluate(close_code, f"/ws/calls/{call_id}/media/") == 4403
