from celery import shared_task

from workflows.models import Repository
from workflows.services import repository_harvest


@shared_task(ignore_result=True)
def repository_harvest_task(repository_id: int) -> None:
    repository_harvest(repository_id=repository_id)


@shared_task(ignore_result=True)
def repository_harvest_all() -> int:
    ids = list(Repository.objects.values_list("pk", flat=True))
    for repository_id in ids:
        repository_harvest_task.delay(repository_id)
    return len(ids)
