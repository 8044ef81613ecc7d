from django.core.management.base import BaseCommand

from esap.demo.load import DEMO_ADMIN, DEMO_USER, demo_hub_settings, load_demo


class Command(BaseCommand):
    help = "Load the demo catalogue (facilities on the local hub, notebooks, sample data) and demo accounts."

    def handle(self, *args, **options) -> None:
        hub_url, hub_token = demo_hub_settings()
        counts = load_demo(hub_url=hub_url, hub_token=hub_token)
        self.stdout.write(
            f"Demo catalogue: {counts['facilities']} facilities, {counts['workflows']} workflows, "
            f"{counts['datasets']} datasets. Logins: {DEMO_USER[0]} / {DEMO_USER[1]} "
            f"(admin: {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]})"
        )
