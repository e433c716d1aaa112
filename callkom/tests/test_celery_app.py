"""The Celery app: beat stops after its tick on SIGTERM and Ctrl-C instead of touching the database inside the
signal handler (which deadlocked SQLite under load)."""

import signal
from unittest import mock

from callkom.celery import Beat, app


def test_celery_beat_uses_the_project_s_beat():
    assert issubclass(app.Beat, Beat)


def test_a_stop_signal_asks_the_loop_to_stop_and_saves_nothing_in_the_handler():
    service = mock.Mock()
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        app.Beat(app=app, quiet=True).install_sync_handler(service)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.getsignal(signum)(signum, None)  # returns: nothing raised inside the interrupted code
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert service.stop.call_count == 2
    service.sync.assert_not_called()
    service.scheduler.close.assert_not_called()
