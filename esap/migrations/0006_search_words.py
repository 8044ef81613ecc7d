from django.db import migrations

from esap.search import index_text

TABLES = [("facilities", "Facility"), ("workflows", "Workflow"), ("staging", "Dataset")]


def recompute_search_text(apps, schema_editor, *, batch: int = 2000) -> None:
    """Rewrites every row's `search_text` as `index_text` now writes it. The stored text was the raw
    document (`search_document()` joined), so its words are the document's words: folding it again gives
    what a save would store, without the models' methods (a migration sees historical models only). The
    indexes follow by themselves: the FTS5 update trigger on SQLite, the generated vector on PostgreSQL.
    Rows are read and written in batches of `batch`, in id order; a row already folded is left alone."""
    for app_label, model_name in TABLES:
        model = apps.get_model(app_label, model_name)
        last = 0
        while True:
            rows = list(model.objects.filter(pk__gt=last).order_by("pk").only("pk", "search_text")[:batch])
            if not rows:
                break
            last = rows[-1].pk
            changed = []
            for row in rows:
                folded = index_text(row.search_text or "")
                if folded != row.search_text:
                    row.search_text = folded
                    changed.append(row)
            model.objects.bulk_update(changed, ["search_text"], batch_size=500)


class Migration(migrations.Migration):
    """Indexed text becomes the document's folded words (esap.search.index_text), the same words on
    SQLite and PostgreSQL: existing rows are recomputed."""

    dependencies = [
        ("esap", "0005_api_token_expiry"),
        ("facilities", "0005_staging_deadline"),
        ("workflows", "0007_one_workflow_per_notebook"),
        ("staging", "0008_checkout_launched_and_announced"),
    ]

    operations = [migrations.RunPython(recompute_search_text, migrations.RunPython.noop, elidable=True)]
