"""The Virtual Observatory search page: choose a service, search it, add results to the cart."""
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from esap.errors import EsapError, summary
from esap.numbers import whole_number
from staging import vo_services
from staging.models import VOService
from staging.vo_apis import QUERY_FIELDS

PAGE_SIZE = 25


def vo_search_page(request):
    services = vo_services.vo_service_list()
    params = {name: request.GET.get(name, "") for name in QUERY_FIELDS}
    page_number = whole_number(request.GET.get("page")) or 1
    servicetype = request.GET.get("servicetype", "tap")
    context = {"services": services, "params": params, "slug": request.GET.get("service", ""), "result": None,
               "registry": None, "error": "", "error_detail": "", "servicetype": servicetype,
               "query_string": urlencode({**params, "service": request.GET.get("service", "")})}
    if context["slug"]:
        try:
            service = vo_services.vo_service_get(slug=context["slug"])
            if service.kind == VOService.Kind.REGISTRY:
                context["registry"] = vo_services.vo_registry_search(
                    service=service, keywords=params["keywords"], servicetype=servicetype)
            else:
                context["result"] = vo_services.vo_search(service=service, params=params,
                                                          page=max(page_number, 1), page_size=PAGE_SIZE)
        except VOService.DoesNotExist:
            context["error"] = "No such VO service."
        except EsapError as error:
            context["error"], context["error_detail"] = summary(error)
    return render(request, "staging/vo.html", context, status=400 if context["error"] else 200)


@login_required
@require_POST
def vo_cart_add_page(request):
    slug = request.POST.get("service", "")
    params = {name: request.POST.get(name, "") for name in QUERY_FIELDS}
    back = "/vo/?" + urlencode({**params, "service": slug, "page": request.POST.get("page", "1")})
    try:
        service = vo_services.vo_service_get(slug=slug)
    except VOService.DoesNotExist:
        raise Http404("No such VO service.") from None
    try:
        vo_services.vo_cart_add(user=request.user, service=service, params=params,
                                publisher_did=request.POST.get("publisher_did", "")[:1000])
    except EsapError as error:
        messages.error(request, summary(error)[0])
    else:
        messages.success(request, "Added to your cart.")
    return redirect(back)
