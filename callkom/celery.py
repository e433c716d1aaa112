import os
from functools import cached_property

from celery import Celery, platforms
from celery.apps.beat import Beat as CeleryBeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callkom.settings")


class Beat(CeleryBeat):
    def install_sync_handler(self, service) -> None:
        """On SIGTERM or Ctrl-C, stop after the current tick; the beat loop then saves the schedule itself.

        Celery's own handler saves the schedule inside the signal handler, re-entering the database connection
        that the interrupted query is using: on SQLite that can deadlock or fail ("Cannot operate on a closed
        database"), and beat never stops on its own."""

        def _stop(signum, frame) -> None:
            service.stop()

        platforms.signals.update(SIGTERM=_stop, SIGINT=_stop)


class CallkomCelery(Celery):
    @cached_property
    def Beat(self):  # noqa: N802 (Celery's name)
        return self.subclass_with_self(Beat)


app = CallkomCelery("callkom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender, **kwargs):
    """The filesystem transport needs its folders before the first message."""
    options = sender.conf.broker_transport_options
    for folder in (options.get("data_folder_in"), options.get("control_folder")):
        if folder:
            os.makedirs(folder, exist_ok=True)
