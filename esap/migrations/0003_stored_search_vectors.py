from django.db import migrations

from esap.search import create_full_text_index


class Migration(migrations.Migration):
    """PostgreSQL: a stored tsvector column with its GIN index replaces the expression index (ranking a
    broad query no longer re-parses every matching row). SQLite: the same FTS5 index, rebuilt."""

    dependencies = [
        ("esap", "0002_identity"),
        ("facilities", "0004_identity"),
        ("workflows", "0005_group_visibility"),
        ("staging", "0003_pinned_workflow_versions"),
    ]

    operations = [create_full_text_index(table)
                  for table in ("facilities_facility", "workflows_workflow", "staging_dataset")]
