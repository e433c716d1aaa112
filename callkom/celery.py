import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callkom.settings")

app = Celery("callkom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender, **kwargs):
    """The filesystem transport needs its folders before the first message."""
    options = sender.conf.broker_transport_options
    for folder in (options.get("data_folder_in"), options.get("control_folder")):
        if folder:
            os.makedirs(folder, exist_ok=True)
