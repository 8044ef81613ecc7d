from django.core.management.base import BaseCommand
from django.db import connection, transaction

from esap import crypto

# Every encrypted column: (table, column). Values are re-encrypted in SQL so that no model code (and no
# log line) ever holds them in clear.
ENCRYPTED_COLUMNS = [("facilities_facility", "api_token")]


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret with the first key of ESAP_FIELD_ENCRYPTION_KEYS. Run it after "
            "putting a new key first (keep the old one listed until this has run), then drop the old key.")

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        rotated = 0
        with connection.cursor() as cursor:
            for table, column in ENCRYPTED_COLUMNS:
                cursor.execute(f"SELECT id, {column} FROM {table} WHERE {column} <> ''")
                for pk, ciphertext in cursor.fetchall():
                    cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s",
                                   [crypto.rotate(ciphertext), pk])
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secret(s) with the current key.")
