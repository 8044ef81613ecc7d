"""manage.py prune_checkout_events [--days N]: what the daily beat task does, on demand."""
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from staging.checkout.retention import prune_checkout_events


class Command(BaseCommand):
    help = ("Delete the progress events of launches that ended more than N days ago, all but each one's last "
            "(the checkouts, their receipts, stay).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=settings.ESAP_EVENT_RETENTION_DAYS,
                            help="retention in days (default: ESAP_EVENT_RETENTION_DAYS)")

    def handle(self, *args, days: int, **options) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1.")
        deleted = prune_checkout_events(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} event(s) of launches over for more than {days} day(s).")
