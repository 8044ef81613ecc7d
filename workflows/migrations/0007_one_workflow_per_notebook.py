from django.db import migrations, models

from esap.search import create_full_text_index


def detach_duplicates(apps, schema_editor) -> None:
    """Concurrent harvests could make two workflows of one notebook. The oldest stays the repository's;
    the others are detached (repository emptied), not deleted, since carts and checkouts may point at them."""
    Workflow = apps.get_model("workflows", "Workflow")
    kept: set[tuple[int, str]] = set()
    duplicates = []
    for pk, repository_id, path in (Workflow.objects.filter(repository__isnull=False).order_by("pk")
                                    .values_list("pk", "repository_id", "notebook_path")):
        if (repository_id, path) in kept:
            duplicates.append(pk)
        kept.add((repository_id, path))
    Workflow.objects.filter(pk__in=duplicates).update(repository=None)


class Migration(migrations.Migration):
    """On SQLite adding the constraint rebuilds workflows_workflow, which drops the search triggers: the
    last operation puts them back."""

    dependencies = [("workflows", "0006_version_per_commit")]

    operations = [
        migrations.RunPython(detach_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="workflow",
            constraint=models.UniqueConstraint(fields=("repository", "notebook_path"),
                                               name="unique_workflow_per_notebook"),
        ),
        create_full_text_index("workflows_workflow"),
    ]
