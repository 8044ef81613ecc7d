from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from esap.api import CappedPageNumberPagination, search_query_param
from esap.numbers import whole_number
from staging import selectors, services
from staging.checkout import services as checkout_services
from staging.checkout.progress import events_payload
from staging.sources.base import source_kinds


class DatasetOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    identifier = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    size_bytes = serializers.IntegerField(allow_null=True)
    metadata = serializers.JSONField()


class DatasetListApi(generics.ListAPIView):
    serializer_class = DatasetOutputSerializer
    pagination_class = CappedPageNumberPagination

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("source", str)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        source = self.request.query_params.get("source", "")
        known = [kind for kind, _ in source_kinds()]
        if source and source not in known:
            raise serializers.ValidationError({"source": [f"Must be one of {known}."]})
        return selectors.dataset_list(query=search_query_param(self.request), source=source)


class DatasetDetailApi(APIView):
    @extend_schema(responses=DatasetOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(DatasetOutputSerializer(get_object_or_404(selectors.dataset_list(), pk=pk)).data)


class CartItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = DatasetOutputSerializer()
    added_at = serializers.DateTimeField()


class CartOutputSerializer(serializers.Serializer):
    workflow = serializers.SerializerMethodField()
    workflow_commit = serializers.SerializerMethodField()
    facility = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    profile = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    frozen_by = serializers.UUIDField(source="frozen_by_id", allow_null=True)
    items = serializers.SerializerMethodField()

    def get_workflow(self, cart) -> int | None:
        return cart.workflow_id

    def get_workflow_commit(self, cart) -> str | None:
        return cart.workflow_version.commit_sha if cart.workflow_version else None

    def get_items(self, cart) -> list[dict]:
        return CartItemOutputSerializer(selectors.cart_items(cart=cart), many=True).data


class CartApi(APIView):
    """The caller's own cart; there is no way to address anyone else's."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=CartOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(CartOutputSerializer(selectors.cart_for(user=request.user)).data)


class CartItemAddApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema_serializer(component_name="CartItemAddInput")
    class InputSerializer(serializers.Serializer):
        dataset = serializers.IntegerField(min_value=1)

    @extend_schema(request=InputSerializer, responses={201: CartItemOutputSerializer})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = services.cart_add_dataset(user=request.user, dataset_id=payload.validated_data["dataset"])
        return Response(CartItemOutputSerializer(item).data, status=201)


class CartItemDeleteApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.cart_remove_item(user=request.user, item_id=pk)
        return Response(status=204)


class CartWorkflowApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema_serializer(component_name="CartWorkflowInput")
    class InputSerializer(serializers.Serializer):
        workflow = serializers.IntegerField(min_value=1, allow_null=True)
        commit = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    @extend_schema(request=InputSerializer, responses=CartOutputSerializer)
    def put(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        cart = services.cart_choose_workflow(user=request.user, workflow_id=payload.validated_data["workflow"],
                                             commit_sha=payload.validated_data["commit"])
        return Response(CartOutputSerializer(cart).data)


class CartFacilityApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema_serializer(component_name="CartFacilityInput")
    class InputSerializer(serializers.Serializer):
        facility = serializers.SlugField(max_length=100, allow_null=True)
        profile = serializers.SlugField(max_length=100, required=False, default="", allow_blank=True)

    @extend_schema(request=InputSerializer, responses=CartOutputSerializer)
    def put(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        cart = services.cart_choose_facility(
            user=request.user, facility_slug=payload.validated_data["facility"],
            profile_slug=payload.validated_data["profile"],
        )
        return Response(CartOutputSerializer(cart).data)


class CheckoutOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.CharField()
    failed_step = serializers.CharField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    facility = serializers.CharField(source="facility_slug")
    profile = serializers.CharField(source="profile_slug")
    workflow = serializers.IntegerField(source="workflow_id", allow_null=True)
    workflow_title = serializers.CharField()
    workflow_commit = serializers.CharField()
    datasets = serializers.JSONField()
    hub_username = serializers.CharField()
    server_name = serializers.CharField()
    lab_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class CheckoutListApi(generics.ListCreateAPIView):
    """GET: the caller's checkouts. POST: check out the caller's cart."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = CheckoutOutputSerializer

    def get_queryset(self):
        return selectors.checkout_list(user=self.request.user)

    @extend_schema(request=None, responses={201: CheckoutOutputSerializer})
    def post(self, request: Request, *args, **kwargs) -> Response:
        checkout = checkout_services.checkout_start(user=request.user)
        return Response(CheckoutOutputSerializer(checkout).data, status=201)


class CheckoutDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=CheckoutOutputSerializer)
    def get(self, request: Request, pk) -> Response:
        return Response(CheckoutOutputSerializer(selectors.checkout_get(user=request.user, pk=pk)).data)


class CheckoutEventsApi(APIView):
    """The JSON twin of the progress stream: events after `?after=<event id>`."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("after", int)], responses=dict)
    def get(self, request: Request, pk) -> Response:
        checkout = selectors.checkout_get(user=request.user, pk=pk)
        after = whole_number(request.query_params.get("after", "0"))
        if after is None:
            raise serializers.ValidationError({"after": ["Must be a non-negative integer."]})
        return Response(events_payload(checkout=checkout, after=after))


class CheckoutRetryApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={202: CheckoutOutputSerializer})
    def post(self, request: Request, pk) -> Response:
        checkout = checkout_services.checkout_retry(user=request.user, pk=pk)
        return Response(CheckoutOutputSerializer(checkout).data, status=202)


class CheckoutCancelApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses=CheckoutOutputSerializer)
    def post(self, request: Request, pk) -> Response:
        checkout = checkout_services.checkout_cancel(user=request.user, pk=pk)
        return Response(CheckoutOutputSerializer(checkout).data)


class CheckoutStopApi(APIView):
    """End a ready launch: its server is stopped on the facility. Asked again of a stopped launch whose
    stop failed (see its events), it tries again."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={202: CheckoutOutputSerializer})
    def post(self, request: Request, pk) -> Response:
        checkout = checkout_services.checkout_stop(user=request.user, pk=pk)
        return Response(CheckoutOutputSerializer(checkout).data, status=202)
