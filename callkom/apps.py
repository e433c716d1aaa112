from django.apps import AppConfig


class CallkomConfig(AppConfig):
    name = "callkom"
    verbose_name = "CALLKOM"
