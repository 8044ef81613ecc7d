import django.db.models.deletion
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models
from django.db.models import Min

from esap.identity import hub_name_candidates


def record_names_given(apps, schema_editor) -> None:
    """Keeps the hub user of everyone who launched on a facility without an identity provider: the name
    their launches there recorded, where it is still the one the rule gives them (others, from before a
    rule change or from an identity provider removed since, would not have been given again). Eight hex
    digits can collide: of users sharing a name, the first to launch as it keeps it and the others get
    the next free name, each printed for operators (the hub user's files are then the first one's)."""
    Checkout = apps.get_model("staging", "Checkout")
    LocalHubName = apps.get_model("esap", "LocalHubName")
    username_field = f"user__{get_user_model().USERNAME_FIELD}"
    launches = (Checkout.objects.filter(facility__identity_provider="").exclude(hub_username="")
                .values("user_id", username_field, "hub_username").annotate(first=Min("created_at"))
                .order_by("first", "user_id"))
    holders: dict[str, str] = {}
    names: dict[int, str] = {}
    later: list[tuple[int, str, str]] = []
    for launch in launches:
        name, username = launch["hub_username"], launch[username_field]
        if name != next(hub_name_candidates(username)):
            continue
        if name in holders:
            later.append((launch["user_id"], username, name))
        else:
            holders[name], names[launch["user_id"]] = username, name
    for user_id, username, shared in later:
        names[user_id] = next(c for c in hub_name_candidates(username) if c not in holders)
        holders[names[user_id]] = username
        print(f"\n  hub user {shared!r} served two portal users: {holders[shared]!r}, who launched as it "
              f"first, keeps it; {username!r} now launches as {names[user_id]!r}", end="")
    LocalHubName.objects.bulk_create(
        [LocalHubName(user_id=user_id, name=name) for user_id, name in names.items()], batch_size=1000)


class Migration(migrations.Migration):
    """Hub names on facilities without an identity provider are kept, unique, instead of recomputed from
    the username at each launch: the names already given are recorded."""

    dependencies = [
        ("esap", "0006_search_words"),
        ("facilities", "0006_stable_list_order"),
        ("staging", "0010_stable_list_order"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LocalHubName",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("name", models.CharField(max_length=120, unique=True)),
                ("given_at", models.DateTimeField(auto_now_add=True)),
                ("user", models.OneToOneField(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                              related_name="local_hub_name", to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.RunPython(record_names_given, migrations.RunPython.noop),
    ]
