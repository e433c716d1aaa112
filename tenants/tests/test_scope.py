import asyncio

import pytest
from asgiref.sync import sync_to_async

from tenants.models import Membership
from tenants.scope import ScopeError, activate, all_tenants_scope, current_tenant, request_scope, tenant_scope
from tenants.testing import TwoTenantTestCase


class ScopeTests(TwoTenantTestCase):
    def test_query_outside_a_scope_raises(self):
        with pytest.raises(ScopeError, match="outside a tenant scope"):
            list(Membership.objects.all())

    def test_related_manager_outside_a_scope_raises(self):
        with pytest.raises(ScopeError):
            self.alice.memberships.count()

    def test_scope_sees_only_its_tenant(self):
        with self.in_alpha():
            emails = set(Membership.objects.values_list("user__email", flat=True))
        self.assertEqual(emails, {"alice@alpha.example", "bob@alpha.example"})
        with self.in_beta():
            self.assertEqual(Membership.objects.count(), 1)
            self.assertFalse(Membership.objects.filter(user=self.alice).exists())

    def test_nested_scopes_restore_the_outer_one(self):
        with self.in_alpha():
            with self.in_beta():
                self.assertEqual(current_tenant(), self.beta)
            self.assertEqual(current_tenant(), self.alpha)
        self.assertIsNone(current_tenant())

    def test_all_tenants_scope_sees_everything(self):
        with all_tenants_scope("test"):
            self.assertEqual(Membership.objects.count(), 3)
            self.assertIsNone(current_tenant())

    def test_activate_lasts_until_the_request_scope_ends(self):
        with request_scope():
            activate(self.beta)
            self.assertEqual(Membership.objects.count(), 1)
        with pytest.raises(ScopeError):
            Membership.objects.count()

    def test_unsaved_tenant_is_refused(self):
        from tenants.models import Tenant

        with pytest.raises(ScopeError):
            with tenant_scope(Tenant(name="x")):
                pass

    def test_deleting_a_tenant_cascades_without_a_scope(self):
        self.beta.delete()
        with all_tenants_scope("test"):
            self.assertEqual(Membership.objects.filter(tenant_id=self.beta.pk).count(), 0)


@pytest.mark.django_db(transaction=True)
async def test_scope_follows_tasks_and_threads():
    from tenants.services import tenant_create

    tenant = await sync_to_async(tenant_create)(name="Gamma", slug="gamma", legal_name="Gamma")

    async def count_in_child_task():
        return await Membership.objects.acount()

    with tenant_scope(tenant):
        assert await asyncio.create_task(count_in_child_task()) == 0
        assert await sync_to_async(lambda: current_tenant())() == tenant
    with pytest.raises(ScopeError):
        await sync_to_async(Membership.objects.count)()
