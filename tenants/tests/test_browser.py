"""A new user's first minutes, in a real headless Chromium: log in, switch to French, see the dashboard."""

import pytest
from playwright.sync_api import expect

from tenants.services import tenant_create, user_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner():
    user = user_create(email="owner@alpha.example", password="correct-horse-battery-staple")
    tenant_create(name="Alpha Cuisines", slug="alpha", legal_name="Alpha SAS", owner=user)
    return user


def test_log_in_switch_to_french_and_see_the_dashboard(live_server, page, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "owner@alpha.example")
    page.fill("#id_password", "correct-horse-battery-staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/t/alpha/")
    assert page.locator("h1").inner_text() == "Alpha Cuisines"
    assert "Dashboard" in page.locator("nav").inner_text()

    page.select_option("#lang-select", "fr")
    # The choice submits a form and reloads the page: wait for the French page, not for a quiet network (which
    # can come before the navigation starts).
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert "Tableau de bord" in page.locator("nav").inner_text()
    assert "Membres" in page.locator(".cards").inner_text()


def test_wrong_password_shows_an_error(live_server, page, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "owner@alpha.example")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".errors").is_visible()
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
