from django.db import migrations

from esap.search import create_full_text_index


class Migration(migrations.Migration):
    """0003 rebuilt workflows_workflow on SQLite, which dropped the search triggers: put them back."""

    dependencies = [("workflows", "0003_repositories_and_versions")]

    operations = [create_full_text_index("workflows_workflow")]
