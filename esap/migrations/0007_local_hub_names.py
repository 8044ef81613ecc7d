import django.db.models.deletion
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models
from django.db.models import Min

from esap.identity import hub_name_candidates


def record_names_given(apps, schema_editor) -> None:
    """Keeps the hub users of everyone who launched on a facility without an identity provider: each user
    keeps the name of their first launch there (whatever rule gave it: the hub user holds their files),
    and every other name a launch used is kept from anyone else (held by no user), so no later user is
    ever given a hub user that served someone. Eight hex digits can collide: of users sharing a name, the
    first to launch as it keeps it and the others get the next free name, each printed for operators."""
    Checkout = apps.get_model("staging", "Checkout")
    LocalHubName = apps.get_model("esap", "LocalHubName")
    username_field = f"user__{get_user_model().USERNAME_FIELD}"
    launches = (Checkout.objects.filter(facility__identity_provider="").exclude(hub_username="")
                .values("user_id", username_field, "hub_username").annotate(first=Min("created_at"))
                .order_by("first", "user_id"))
    holders: dict[str, int | None] = {}
    names: dict[int, str] = {}
    shared: list[tuple[int, str, str]] = []
    for launch in launches:
        user_id, name = launch["user_id"], launch["hub_username"]
        if name in holders:
            if holders[name] != user_id and user_id not in names:
                shared.append((user_id, launch[username_field], name))
        elif user_id in names:
            holders[name] = None  # a second name this user launched as: nobody else's from now on
        else:
            holders[name], names[user_id] = user_id, name
    usernames = {user_id: username for user_id, username, _ in shared}
    for user_id, username, name in shared:
        if user_id in names:
            continue
        names[user_id] = next(c for c in hub_name_candidates(username) if c not in holders)
        holders[names[user_id]] = user_id
        print(f"\n  hub user {name!r} served two portal users: the one who launched as it first keeps it; "
              f"{usernames[user_id]!r} now launches as {names[user_id]!r}", end="")
    LocalHubName.objects.bulk_create(
        [LocalHubName(user_id=user_id, name=name) for name, user_id in holders.items()], batch_size=1000)


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
