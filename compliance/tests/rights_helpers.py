"""Shared set-up of the rights-request tests: a fake personal-data handler and a few shortcuts."""

import re

from django.core import mail
from django.core.cache import cache

from compliance import rights
from compliance.models import RightsRequest
from compliance.registry import Rectification, register_handler, unregister_handler
from tenants.crypto import email_index, phone_index
from tenants.scope import ScopeError, current_tenant, scope_is_active
from tenants.services import user_create
from tenants.testing import TwoTenantTestCase

PHONE = "+33612345678"
EMAIL = "jean.martin@example.org"


class FakeHandler:
    """Holds (tenant id, phone index, e-mail index) rows in memory, as the calls app's handler will hold contacts."""

    name = "fake"
    retention_categories = ()  # nothing to purge: retention never asks it

    def __init__(self):
        self.rows = []
        self.fail = False

    def hold(self, tenant, *, phone="", email=""):
        self.rows.append((tenant.pk, phone_index(phone) if phone else None, email_index(email) if email else None))

    def holders(self, *, phone_index, email_index):
        if not scope_is_active() or current_tenant() is not None:
            raise ScopeError("holders() must run under all_tenants_scope")
        if self.fail:
            raise RuntimeError("handler broken")
        return {tenant_id for tenant_id, phone, email in self.rows
                if (phone_index and phone == phone_index) or (email_index and email == email_index)}

    def _rows_of(self, tenant, subject):
        return [row for row in self.rows if row[0] == tenant.pk
                and ((subject.phone_index and row[1] == subject.phone_index)
                     or (subject.email_index and row[2] == subject.email_index))]

    def export(self, tenant, subject):
        if self.fail:
            raise RuntimeError("handler broken")
        return {"rows": len(self._rows_of(tenant, subject))}

    def erase(self, tenant, subject):
        if self.fail:
            raise RuntimeError("handler broken")
        mine = self._rows_of(tenant, subject)
        self.rows = [row for row in self.rows if row not in mine]
        return {"fake.rows": len(mine)}

    def rectify(self, tenant, subject, changes):
        return Rectification(counts={"fake.rows": len(self._rows_of(tenant, subject))}, previous={})

    def restrict(self, tenant, subject, restricted):
        return {"fake.rows": len(self._rows_of(tenant, subject))}

    def object(self, tenant, subject):
        return {"fake.rows": len(self._rows_of(tenant, subject))}

    def held_call_ids(self, tenant, *, phone_indexes, email_indexes):
        return set()

    def purge(self, tenant, category, *, cutoff, batch_size, held):
        raise AssertionError("a handler without retention categories is never asked to purge")

    def purgeable(self, tenant, category, *, cutoff, held):
        raise AssertionError("a handler without retention categories is never asked to purge")


class RightsTestCase(TwoTenantTestCase):
    """Two tenants, a fake handler registered for the test only, an empty cache and outbox."""

    def setUp(self):
        super().setUp()
        self.handler = FakeHandler()
        register_handler(self.handler)
        self.addCleanup(unregister_handler, self.handler.name)
        cache.clear()
        self.addCleanup(cache.clear)

    def staff_user(self):
        """CALLKOM staff (a superuser), created on first use."""
        if not hasattr(self, "_staff"):
            self._staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
            self._staff.is_superuser = True
            self._staff.save()
        return self._staff

    def submit(self, **overrides) -> tuple[RightsRequest, str]:
        """Submit through the service; return the request and the code found in the e-mail."""
        fields = {"kind": "access", "requester_name": "Jean Martin", "requester_email": EMAIL,
                  "requester_phone": PHONE, "language": "en"}
        fields.update(overrides)
        with self.captureOnCommitCallbacks(execute=True):
            request = rights.request_submit(**fields)
        return request, last_code()

    def verified(self, **overrides) -> RightsRequest:
        """Submit and verify (routing runs as it would after the commit)."""
        request, code = self.submit(**overrides)
        with self.captureOnCommitCallbacks(execute=True):
            rights.code_verify(request=request, code=code)
        return RightsRequest.objects.get(pk=request.pk)

    def copies(self, request):
        from compliance.models import RoutedRequest
        from tenants.scope import all_tenants_scope

        with all_tenants_scope("test"):
            return {routed.tenant.slug: routed
                    for routed in RoutedRequest.objects.filter(request=request).select_related("tenant")}


def last_code() -> str:
    for message in reversed(mail.outbox):
        match = re.search(r"^\s+(\d{6})\s*$", message.body, re.MULTILINE)
        if match:
            return match.group(1)
    raise AssertionError("no code e-mail was sent")


def mails_to(address):
    return [message for message in mail.outbox if address in message.to]
