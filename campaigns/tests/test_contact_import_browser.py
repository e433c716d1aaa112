"""A contact import in a real headless Chromium: upload, map the columns, watch the progress bar reach the end."""

import threading

import pytest

from campaigns import importing
from campaigns.services import imports, lists
from campaigns.tasks import contact_import_run
from tenants.scope import tenant_scope
from tenants.services import tenant_create, user_create

pytestmark = [pytest.mark.browser]
PASSWORD = "correct-horse-battery-staple"


def run_later(contact_import):
    """Queue the import task as a worker would take it: a moment after the request, in another thread, so that the
    page sees it queued and follows it through its status endpoint."""
    tenant_id, import_id = contact_import.tenant_id, str(contact_import.pk)

    def work():
        from django.db import connection

        try:
            contact_import_run(tenant_id, import_id)
        finally:
            connection.close()

    from django.db import transaction

    transaction.on_commit(lambda: threading.Timer(1.0, work).start())


@pytest.fixture
def alpha(transactional_db, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(imports, "_queue", run_later)  # inherited by the forked server process
    monkeypatch.setattr(importing, "BATCH_ROWS", 50)
    owner = user_create(email="owner@alpha.example", password=PASSWORD)
    tenant = tenant_create(name="Alpha", slug="alpha", legal_name="Alpha SAS", owner=owner)
    with tenant_scope(tenant):
        contact_list = lists.contact_list_create(tenant=tenant, name="Prospects", legal_basis="contract")
    return contact_list


def test_upload_map_and_follow_the_import_to_the_end(alpha, asgi_live_server, page, tmp_path):
    rows = "".join(f"Client {n};06 {n // 100:02d} {n % 100:02d} 00 00;Lyon\n" for n in range(400))
    upload = tmp_path / "clients.csv"
    upload.write_bytes(("Nom;Téléphone;Ville\n" + rows).encode("cp1252"))
    page.goto(f"{asgi_live_server}/accounts/login/")
    page.fill("#id_username", "owner@alpha.example")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)  # logged in: the session cookie is set

    page.goto(f"{asgi_live_server}/t/alpha/contacts/lists/{alpha.pk}/import/")
    page.set_input_files("#id_file", str(upload))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#mapping")
    assert page.input_value("#id_column_1") == "phone"
    assert page.input_value("#id_column_0") == "name"
    page.click("#start-import")
    page.wait_for_selector("#import-progress")
    assert page.get_attribute("#import-progress", "data-status") in ("queued", "validating", "importing")
    page.wait_for_function("document.getElementById('import-progress').dataset.status === 'completed'",
                           timeout=30_000)
    assert page.eval_on_selector("#import-bar", "bar => bar.value") == 100
    assert page.inner_text("#count-imported") == "400"
    page.click("text=See the list and its risk check")
    assert "Client 0" in page.inner_text("#contacts")
