from django.db import migrations

from esap.search import create_full_text_index


class Migration(migrations.Migration):
    dependencies = [("facilities", "0001_initial")]

    operations = [create_full_text_index("facilities_facility")]
