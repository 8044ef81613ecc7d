from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from esap import crypto


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary key column, column) of every EncryptedTextField of every installed model, found
    rather than listed, so that a secret added later cannot be left under a key about to be dropped.
    Values are re-encrypted in SQL so that no model code (and no log line) ever holds them in clear."""
    return [(model._meta.db_table, model._meta.pk.column, field.column)
            for model in apps.get_models() for field in model._meta.local_fields
            if isinstance(field, crypto.EncryptedTextField)]


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret with the first key of ESAP_FIELD_ENCRYPTION_KEYS. Run it after "
            "putting a new key first (keep the old one listed until this has run), then drop the old key.")

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        rotated = 0
        with connection.cursor() as cursor:
            for table, pk_column, column in encrypted_columns():
                cursor.execute(f"SELECT {pk_column}, {column} FROM {table} WHERE {column} <> ''")
                for pk, ciphertext in cursor.fetchall():
                    cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s",
                                   [crypto.rotate(ciphertext), pk])
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secret(s) with the current key.")
