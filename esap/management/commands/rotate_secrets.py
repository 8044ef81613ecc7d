from typing import Any, NamedTuple

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from esap import crypto


class EncryptedColumn(NamedTuple):
    model: str  # app_label.ModelName
    field: str
    table: str
    pk_column: str
    column: str


class Skipped(NamedTuple):
    model: str
    pk: object
    field: str


def encrypted_columns() -> list[EncryptedColumn]:
    """Every EncryptedTextField of every installed model, found rather than listed, so that a secret added
    later cannot be left under a key about to be dropped. Values are re-encrypted in SQL so that no model
    code (and no log line) ever holds them in clear."""
    return [EncryptedColumn(model._meta.label, field.name, model._meta.db_table, model._meta.pk.column,
                            field.column)
            for model in apps.get_models() for field in model._meta.local_fields
            if isinstance(field, crypto.EncryptedTextField)]


def rotate_column(cursor: Any, encrypted: EncryptedColumn) -> tuple[int, list[Skipped]]:
    """Re-encrypts the column's readable values; those no configured key decrypts stay as they are."""
    table, pk_column, column = encrypted.table, encrypted.pk_column, encrypted.column
    cursor.execute(f"SELECT {pk_column}, {column} FROM {table} WHERE {column} <> ''")
    rotated, skipped = 0, []
    for pk, ciphertext in cursor.fetchall():
        try:
            fresh = crypto.rotate(ciphertext)
        except crypto.UndecryptableSecret:
            skipped.append(Skipped(encrypted.model, pk, encrypted.field))
            continue
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s", [fresh, pk])
        rotated += 1
    return rotated, skipped


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret with the first key of ESAP_FIELD_ENCRYPTION_KEYS. Run it after "
            "putting a new key first (keep the old one listed until this has run), then drop the old key. "
            "Secrets that no listed key decrypts are left as they are and listed; the command then exits 1.")

    def handle(self, *args, **options) -> None:
        rotated, skipped = 0, []
        with transaction.atomic(), connection.cursor() as cursor:
            for encrypted in encrypted_columns():
                column_rotated, column_skipped = rotate_column(cursor, encrypted)
                rotated += column_rotated
                skipped += column_skipped
        self.stdout.write(f"Re-encrypted {rotated} secret(s) with the current key.")
        if skipped:
            for model, pk, field in skipped:
                self.stderr.write(f"  not decryptable with any listed key: {model} pk={pk} field {field}")
            raise CommandError(
                f"{len(skipped)} secret(s) listed above could not be decrypted with any key of "
                "ESAP_FIELD_ENCRYPTION_KEYS and were left as they are. Enter each of them again in the admin "
                "(or put back the key they were encrypted with and run rotate_secrets again).")
