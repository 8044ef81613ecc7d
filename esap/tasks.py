from celery import shared_task

from esap.search import refresh_planner_statistics


@shared_task(ignore_result=True)
def planner_statistics_refresh() -> None:
    refresh_planner_statistics()
