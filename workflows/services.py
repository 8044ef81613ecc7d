"""Writes to the workflow catalogue."""
from dataclasses import asdict
from typing import Any

from django.utils.text import slugify

from workflows.harvest.notebooks import read_notebook_info
from workflows.models import Workflow


def workflow_create_from_notebook(*, notebook: dict[str, Any], notebook_path: str, repository_url: str = "",
                                  ref: str = "", commit_sha: str = "", keywords: str = "",
                                  first_cells: int | None = None, slug: str = "") -> Workflow:
    """A catalogue entry whose title, description, kernel and parameters are read from the notebook."""
    info = read_notebook_info(notebook)
    title = info.title or notebook_path.rsplit("/", 1)[-1].removesuffix(".ipynb")
    workflow = Workflow(
        title=title,
        slug=slug or _unique_slug(title),
        description=info.description or "",
        keywords=keywords,
        repository_url=repository_url,
        ref=ref,
        commit_sha=commit_sha,
        notebook_path=notebook_path,
        kernel_name=info.kernel_name,
        parameters=[asdict(parameter) for parameter in info.parameters],
        notebook=notebook,
        first_cells=first_cells,
    )
    workflow.full_clean()
    workflow.save()
    return workflow


def _unique_slug(title: str) -> str:
    base = slugify(title)[:140] or "workflow"
    slug, counter = base, 2
    while Workflow.objects.filter(slug=slug).exists():
        slug, counter = f"{base}-{counter}", counter + 1
    return slug
