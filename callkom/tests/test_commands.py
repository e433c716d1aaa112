import io

from django.core.management import call_command
from django.test import TestCase
from django_celery_beat.models import PeriodicTask

from campaigns.models import Campaign
from campaigns.services.lists import contact_list_blockers
from tenants.models import Membership, Tenant, User
from tenants.scope import tenant_scope


class SeedDemoTests(TestCase):
    def test_seed_demo_is_idempotent_and_prints_log_ins(self):
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        call_command("seed_demo", stdout=out)
        self.assertEqual(Tenant.objects.filter(slug="demo").count(), 1)
        self.assertEqual(User.objects.count(), 2)
        self.assertIn("owner@demo.example", out.getvalue())
        owner = User.objects.get(email="owner@demo.example")
        with tenant_scope(Tenant.objects.get(slug="demo")):
            self.assertEqual(Membership.objects.get(user=owner).role, "owner")
            campaign = Campaign.objects.select_related("contact_list").get()
            self.assertEqual((campaign.status, campaign.contact_list.contacts.count()), ("draft", 3))
            self.assertEqual(contact_list_blockers(contact_list=campaign.contact_list), [])
        self.assertTrue(User.objects.get(email="staff@callkom.example").is_staff)
        self.assertTrue(self.client.login(username="owner@demo.example", password="demo-owner-2026"))


class PeriodicTaskTests(TestCase):
    def test_declares_schedules_and_removes_stale_ones(self):
        PeriodicTask.objects.create(name="callkom: retired job", task="x.y", interval_id=None,
                                    crontab=self._crontab())
        call_command("setup_periodic_tasks", stdout=io.StringIO())
        call_command("setup_periodic_tasks", stdout=io.StringIO())
        names = set(PeriodicTask.objects.values_list("name", flat=True))
        self.assertIn("callkom: heartbeat", names)
        self.assertNotIn("callkom: retired job", names)
        self.assertEqual(PeriodicTask.objects.get(name="callkom: heartbeat").interval.every, 60)

    def _crontab(self):
        from django_celery_beat.models import CrontabSchedule

        return CrontabSchedule.objects.create(minute="0", hour="3")


class ScheduleNamesTests(TestCase):
    def test_every_scheduled_task_is_a_registered_celery_task(self):
        from callkom.celery import app
        from callkom.management.commands.setup_periodic_tasks import SCHEDULES

        app.loader.import_default_modules()  # what a worker does at start: import every app's tasks module
        for name, task, _spec in SCHEDULES:
            with self.subTest(name):
                self.assertIn(task, app.tasks)
