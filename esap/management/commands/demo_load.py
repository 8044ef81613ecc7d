from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from esap.demo.load import DEMO_ADMIN, DEMO_USER, demo_hub_settings, load_demo


class Command(BaseCommand):
    help = "Load the demo catalogue (facilities on the local hub, notebooks, sample data) and demo accounts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Load although ESAP_DEBUG is off.")

    def handle(self, *args, force: bool = False, **options) -> None:
        if not (settings.DEBUG or force):
            raise CommandError("This creates accounts whose passwords are published (an operator among them) "
                               "and demo facilities. Load it into a demo, not a production portal, or pass "
                               "--force.")
        hub_url, hub_token = demo_hub_settings()
        counts = load_demo(hub_url=hub_url, hub_token=hub_token)
        self.stdout.write(
            f"Demo catalogue: {counts['facilities']} facilities, {counts['workflows']} workflows, "
            f"{counts['datasets']} datasets. Logins: {DEMO_USER[0]} / {DEMO_USER[1]} "
            f"(admin: {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]})"
        )
