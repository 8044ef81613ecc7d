"""REST endpoints for Virtual Observatory services: list them, search one (paged), add a result to the cart,
search a registry. Errors: 400 `vo.query` (bad parameters, or the service rejected the query), 503
`vo.unavailable` (the service is down or answered garbage), 404 for an unknown service."""
from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from staging import vo_services
from staging.apis import CartItemOutputSerializer

QUERY_FIELDS = ("ra", "dec", "radius", "band_min", "band_max", "time_min", "time_max", "collection",
                "keywords")


class VOServiceOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    kind = serializers.CharField()
    url = serializers.URLField()
    description = serializers.CharField()
    needs_internet = serializers.BooleanField()


class VOServiceListApi(APIView):
    @extend_schema(responses=VOServiceOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(VOServiceOutputSerializer(vo_services.vo_service_list(), many=True).data)


class VOPageInputSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=vo_services.vo.MAX_PAGE_SIZE, default=50)


class VOSearchApi(APIView):
    """`?ra=&dec=&radius=` (degrees) `&band_min=&band_max=` (metres) `&time_min=&time_max=` (MJD)
    `&collection=&keywords=&page=&page_size=`; `next` is the next page number or null."""

    @extend_schema(parameters=[OpenApiParameter(name, str) for name in (*QUERY_FIELDS, "page", "page_size")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        paging = VOPageInputSerializer(data=request.query_params)
        paging.is_valid(raise_exception=True)
        service = vo_services.vo_service_get(slug=slug)
        params = {name: request.query_params.get(name) for name in QUERY_FIELDS}
        result = vo_services.vo_search(service=service, params=params, **paging.validated_data)
        page = result.page
        return Response({
            "service": service.slug, "query": result.query.params(), "adql": page.adql, "page": page.page,
            "page_size": page.page_size, "next": page.page + 1 if page.has_next else None,
            "previous": page.page - 1 if page.page > 1 else None, "async": bool(page.job_url),
            "results": [asdict(row) for row in page.rows],
        })


class VOCartAddInputSerializer(serializers.Serializer):
    publisher_did = serializers.CharField(max_length=1000)
    query = serializers.DictField(required=False, default=dict)


class VOCartAddApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=VOCartAddInputSerializer, responses={201: CartItemOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        payload = VOCartAddInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        service = vo_services.vo_service_get(slug=slug)
        params = {k: v for k, v in payload.validated_data["query"].items() if k in QUERY_FIELDS}
        item = vo_services.vo_cart_add(user=request.user, service=service, params=params,
                                       publisher_did=payload.validated_data["publisher_did"])
        return Response(CartItemOutputSerializer(item).data, status=201)


class VORegistrySearchApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("keywords", str), OpenApiParameter("servicetype", str)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        service = vo_services.vo_service_get(slug=slug)
        found = vo_services.vo_registry_search(
            service=service, keywords=request.query_params.get("keywords", ""),
            servicetype=request.query_params.get("servicetype", "tap"))
        return Response({"service": service.slug, "results": [asdict(record) for record in found]})
