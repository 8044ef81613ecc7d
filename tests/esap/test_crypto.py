"""Hub tokens are encrypted at rest and never shown by their repr."""
import pytest
from cryptography.fernet import Fernet
from django.core.checks import ERROR, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from esap import crypto
from staging.models import DataLake
from tests.factories import make_facility

pytestmark = pytest.mark.django_db


def stored_token(facility) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM facilities_facility WHERE id = %s", [facility.pk])
        return cursor.fetchone()[0]


def test_token_is_stored_encrypted_and_read_back_in_clear():
    facility = make_facility(token="s3cr3t-hub-token")

    assert "s3cr3t" not in stored_token(facility)
    assert facility.__class__.objects.get(pk=facility.pk).api_token == "s3cr3t-hub-token"


def test_secret_repr_hides_the_value():
    facility = make_facility(token="s3cr3t-hub-token")
    reloaded = facility.__class__.objects.get(pk=facility.pk)

    assert "s3cr3t" not in repr(reloaded.api_token)
    assert "s3cr3t" not in repr(reloaded.__dict__)


def test_keys_rotate_old_ciphertext_still_reads_and_rotates_to_the_new_key(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    facility = make_facility(token="rotating-token")
    old_ciphertext = stored_token(facility)

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert facility.__class__.objects.get(pk=facility.pk).api_token == "rotating-token"
    rotated = crypto.rotate(old_ciphertext)

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert crypto.decrypt(rotated) == "rotating-token"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt(old_ciphertext)


def test_the_rotation_command_moves_every_secret_to_the_new_key(settings, capsys):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    first, second = make_facility(token="token-one"), make_facility(token="token-two")
    untouched = make_facility(token="")
    lake = DataLake.objects.create(slug="lake", name="Lake", server_url="https://rucio.example.org",
                                   account="esap", username="esap", password="rucio-password")

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_secrets")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    model = first.__class__
    assert model.objects.get(pk=first.pk).api_token == "token-one"
    assert model.objects.get(pk=second.pk).api_token == "token-two"
    assert model.objects.get(pk=untouched.pk).api_token == ""
    assert lake.__class__.objects.get(pk=lake.pk).password == "rucio-password"
    assert "Re-encrypted 3 secret(s)" in capsys.readouterr().out


def test_the_rotation_command_rotates_what_it_can_and_names_the_secrets_no_key_decrypts(settings, capsys):
    dropped_key, old_key, new_key = (Fernet.generate_key().decode() for _ in range(3))
    settings.FIELD_ENCRYPTION_KEYS = [dropped_key]
    orphaned = make_facility("orphaned", token="token-under-a-dropped-key")
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    readable = make_facility("readable", token="token-under-the-old-key")
    orphaned_ciphertext = stored_token(orphaned)

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    with pytest.raises(CommandError, match="Enter each of them again in the admin") as failed:
        call_command("rotate_secrets")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    output = capsys.readouterr()
    assert failed.value.returncode == 1
    assert readable.__class__.objects.get(pk=readable.pk).api_token == "token-under-the-old-key"
    assert stored_token(orphaned) == orphaned_ciphertext
    assert "Re-encrypted 1 secret(s)" in output.out
    assert f"facilities.Facility pk={orphaned.pk} field api_token" in output.err
    assert "token-under" not in output.out + output.err and orphaned_ciphertext not in output.err


def test_every_encrypted_field_is_rotated():
    from esap.management.commands.rotate_secrets import encrypted_columns

    assert {(encrypted.table, encrypted.column) for encrypted in encrypted_columns()} >= {
        ("facilities_facility", "api_token"), ("staging_datalake", "password")}


def test_a_token_whose_key_was_dropped_makes_only_that_facility_unusable_and_says_why(settings, client):
    from esap.errors import ServiceError
    from facilities.models import Facility, Health
    from facilities.services import facility_probe
    from staging.checkout.hub_access import client_for

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    orphaned = make_facility("orphaned", token="token-under-a-dropped-key")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    make_facility("healthy", token="token-under-the-current-key")

    listed = client.get("/api/facilities/")
    facility = Facility.objects.get(slug="orphaned")

    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert client.get("/facilities/orphaned/").status_code == 200
    with pytest.raises(ServiceError, match="can no longer decrypt"):
        client_for(facility)
    facility_probe(facility=facility)
    assert Facility.objects.get(pk=orphaned.pk).health == Health.DOWN
    assert "cannot be decrypted" in Facility.objects.get(pk=orphaned.pk).health_message
    assert "token-under" not in repr(facility.api_token)
    ciphertext = stored_token(facility)
    facility.save()  # an operator's edit of something else keeps what a restored key would read
    assert stored_token(facility) == ciphertext != ""


def test_a_malformed_key_is_a_configuration_error_not_an_unreadable_secret(settings):
    good_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [good_key]
    facility = make_facility(token="token-under-the-good-key")
    assert not [error for error in run_checks() if error.id == "esap.crypto.E001"]

    settings.FIELD_ENCRYPTION_KEYS = [good_key, "notakey"]
    [error] = [error for error in run_checks() if error.id == "esap.crypto.E001"]

    assert error.level == ERROR and "entry 2 of 2 is not a Fernet key" in error.msg
    assert "notakey" not in error.msg + error.hint and good_key not in error.msg + error.hint
    with pytest.raises(ImproperlyConfigured, match="entry 2 of 2"):
        facility.__class__.objects.get(pk=facility.pk)  # not an UnreadableSecret: the token is fine
    with pytest.raises(ImproperlyConfigured, match="entry 2 of 2"):
        facility.save()


def test_secrets_stored_before_keys_were_set_stay_readable_and_rotate_to_the_first_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []  # the embedded default: a key derived from SECRET_KEY
    facility = make_facility(token="stored-before-the-keys")
    before = stored_token(facility)
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]  # production's keys, set later than W004 asked

    assert facility.__class__.objects.get(pk=facility.pk).api_token == "stored-before-the-keys"
    call_command("rotate_secrets")
    after = stored_token(facility)
    assert after != before
    assert Fernet(key).decrypt(after.encode()).decode() == "stored-before-the-keys"
