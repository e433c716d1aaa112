"""Checks behind /healthz: each returns (ok, detail) and never raises."""

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .tasks import HEARTBEAT_KEY


def _timed(check):
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as error:  # noqa: BLE001 - a health check reports every failure
        ok, detail = False, f"{type(error).__name__}: {error}"
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache():
    cache = caches["default"]
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("value written was not read back")
    cache.delete(key)
    return type(cache).__name__


def check_channel_layer():
    layer = get_channel_layer()

    async def roundtrip():
        channel = await layer.new_channel("healthz.")
        await layer.send(channel, {"type": "healthz.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "healthz.ping":
            raise RuntimeError("message sent was not received")

    async_to_sync(roundtrip)()
    return layer.__class__.__name__


def check_broker():
    from callkom.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type


def beat_heartbeat():
    """Age in seconds of the last heartbeat, or None (informational: web can be healthy without beat).

    A worker ran the heartbeat task when a shared cache (Redis) holds its stamp; otherwise, as with the embedded
    per-process cache, the database tells when beat last sent it.
    """
    from django_celery_beat.models import PeriodicTask

    from .management.commands.setup_periodic_tasks import PREFIX

    value = caches["default"].get(HEARTBEAT_KEY)
    when = parse_datetime(value) if value else None
    if when is None:
        task = PeriodicTask.objects.filter(name=f"{PREFIX}heartbeat").only("last_run_at").first()
        when = task.last_run_at if task is not None else None
    return None if when is None else round((timezone.now() - when).total_seconds())


def run_checks():
    checks = {
        "database": _timed(check_database),
        "cache": _timed(check_cache),
        "channel_layer": _timed(check_channel_layer),
        "broker": _timed(check_broker),
    }
    return {
        "ok": all(c["ok"] for c in checks.values()),
        "checks": checks,
        "beat_heartbeat_age_s": beat_heartbeat(),
    }
