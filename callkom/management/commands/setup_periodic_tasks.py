"""Declare every beat schedule of the product. The schedule is code: reviewed like code, applied by this command.

Each entry is (name, task, schedule); a schedule is either {"every": seconds} or {"crontab": "m h dom mon dow"}
in UTC. Tasks this command created earlier and that are no longer declared are removed.
"""

import json

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

PREFIX = "callkom: "

SCHEDULES = [
    ("heartbeat", "callkom.heartbeat", {"every": 60}),
    ("webhook retries", "webhooks.deliver_due", {"every": 60}),
    ("campaign dialer", "calls.dialer_tick", {"every": 60}),
    ("rights request reminders", "compliance.rights_reminders", {"crontab": "0 7 * * *"}),
    ("expired data exports", "compliance.exports_purge", {"crontab": "30 3 * * *"}),
    ("retention purge", "compliance.purge_expired", {"crontab": "15 2 * * *"}),
    # Hourly, so a change takes effect within the hour after midnight wherever the server's clock is.
    ("subprocessor changes in effect", "subprocessors.notices_apply_due", {"crontab": "5 * * * *"}),
    ("pending notice e-mails", "subprocessors.mailings_send_pending", {"every": 900}),
    ("expired API idempotency records", "tenants.idempotency_purge", {"crontab": "25 * * * *"}),
    ("unconfirmed notice subscriptions", "subprocessors.subscriptions_purge", {"crontab": "45 3 * * *"}),
]


def _schedule_fields(spec):
    if "every" in spec:
        interval, _ = IntervalSchedule.objects.get_or_create(every=spec["every"], period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None}
    minute, hour, day_of_month, month_of_year, day_of_week = spec["crontab"].split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
        day_of_week=day_of_week, timezone="UTC",
    )
    return {"interval": None, "crontab": crontab}


class Command(BaseCommand):
    help = "Create or update the periodic tasks of django-celery-beat from the schedule declared in code."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = set()
        for name, task, spec in SCHEDULES:
            full_name = PREFIX + name
            declared.add(full_name)
            PeriodicTask.objects.update_or_create(
                name=full_name,
                defaults={"task": task, "enabled": True, "kwargs": json.dumps(spec.get("kwargs", {})),
                          **_schedule_fields(spec)},
            )
        stale = PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=declared)
        removed = [task.name for task in stale]
        stale.delete()
        self.stdout.write(f"{len(declared)} periodic tasks declared; {len(removed)} removed.")
