from celery import shared_task

from facilities.models import Facility
from facilities.services import facility_probe


@shared_task(ignore_result=True)
def facility_probe_all() -> int:
    facilities = list(Facility.objects.all())
    for facility in facilities:
        facility_probe(facility=facility)
    return len(facilities)
