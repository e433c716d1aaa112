from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "callkom:beat-heartbeat"


@shared_task(name="callkom.heartbeat")
def heartbeat():
    """Note that beat and a worker are alive; /healthz reports the age of the last beat."""
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=24 * 3600)
