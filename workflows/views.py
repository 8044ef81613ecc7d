from django.http import Http404
from django.shortcuts import render

from esap.pages import search_page
from workflows import selectors
from workflows.models import Workflow


def workflow_list_page(request):
    return search_page(request, "workflows/list.html",
                       lambda q: selectors.workflow_list(query=q, viewer=request.user))


def workflow_detail_page(request, pk: int):
    try:
        workflow = selectors.workflow_get(pk=pk, viewer=request.user)
    except Workflow.DoesNotExist:
        raise Http404("No such workflow.") from None
    return render(request, "workflows/detail.html", {"workflow": workflow})
