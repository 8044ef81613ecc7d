import logging
import logging.config
import os

from celery import Celery, signals

from esap import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "esap.settings")

broker.register()
app = Celery("esap")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def log_as_the_web_processes_do(loglevel: int | None = None, **kwargs) -> None:
    """Workers and beat log through Django's LOGGING (ESAP_LOG_FORMAT, ESAP_LOG_LEVEL) rather than
    Celery's own format on the root logger. Celery's own lines (ready, task received and succeeded) keep the
    command line's --loglevel."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)
