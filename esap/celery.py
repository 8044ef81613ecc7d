import os

from celery import Celery

from esap import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "esap.settings")

broker.register()
app = Celery("esap")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
