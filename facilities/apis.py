from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from esap.api import CappedPageNumberPagination, search_query_param
from facilities import selectors, services
from facilities.models import Facility, Health, StagingMode


class ProfileOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()


class FacilityOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    keywords = serializers.ListField(source="keyword_list", child=serializers.CharField())
    hub_url = serializers.URLField()
    data_rse_expression = serializers.CharField()
    data_mount_path = serializers.CharField()
    staging_mode = serializers.CharField()
    spawn_deadline_seconds = serializers.IntegerField()
    staging_deadline_seconds = serializers.IntegerField()
    identity_provider = serializers.CharField()
    hub_username_claim = serializers.CharField()
    health = serializers.CharField()
    hub_version = serializers.CharField()
    probed_at = serializers.DateTimeField()
    profiles = ProfileOutputSerializer(many=True)


SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, description="Keywords; every word must match (prefixes match too)."),
]


class FacilityListApi(generics.ListAPIView):
    serializer_class = FacilityOutputSerializer
    pagination_class = CappedPageNumberPagination

    @extend_schema(parameters=[*SEARCH_PARAMETERS, OpenApiParameter("health", str, enum=Health.values)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        health = self.request.query_params.get("health", "")
        if health and health not in Health.values:
            raise serializers.ValidationError({"health": [f"Must be one of {Health.values}."]})
        return selectors.facility_list(
            query=search_query_param(self.request), health=health,
            viewer=self.request.user,
        )


class FacilityDetailApi(APIView):
    @extend_schema(responses=FacilityOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        facilities = selectors.facility_list(viewer=request.user)
        return Response(FacilityOutputSerializer(get_object_or_404(facilities, slug=slug)).data)


class FacilityCreateApi(APIView):
    """Operators register a facility; the API token is write-only."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema_serializer(component_name="FacilityRegisterInput")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="FacilityRegisterProfileInput")
        class ProfileInput(serializers.Serializer):
            slug = serializers.SlugField(max_length=100)
            display_name = serializers.CharField(max_length=200)
            description = serializers.CharField(required=False, default="", allow_blank=True)

        name = serializers.CharField(max_length=200)
        slug = serializers.SlugField(max_length=100)
        hub_url = serializers.URLField(max_length=500)
        api_token = serializers.CharField(write_only=True, required=False, default="", max_length=500)
        description = serializers.CharField(required=False, default="", allow_blank=True)
        keywords = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
        data_rse_expression = serializers.CharField(required=False, default="", allow_blank=True)
        data_mount_path = serializers.CharField(required=False, default="", allow_blank=True)
        staging_mode = serializers.ChoiceField(choices=StagingMode.choices, required=False,
                                               default=StagingMode.DOWNLOAD)
        spawn_deadline_seconds = serializers.IntegerField(required=False, default=300, min_value=10,
                                                          max_value=24 * 3600)
        staging_deadline_seconds = serializers.IntegerField(required=False, default=6 * 3600, min_value=10,
                                                            max_value=30 * 24 * 3600)
        identity_provider = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
        hub_username_claim = serializers.CharField(required=False, default="preferred_username",
                                                   allow_blank=True, max_length=100)
        profiles = ProfileInput(many=True, required=False, default=list)

        def validate_profiles(self, profiles: list[dict]) -> list[dict]:
            slugs = [profile["slug"] for profile in profiles]
            repeated = sorted({slug for slug in slugs if slugs.count(slug) > 1})
            if repeated:
                raise serializers.ValidationError(f"Each profile needs its own slug: {', '.join(repeated)} "
                                                  f"is given more than once.")
            return profiles

    @extend_schema(request=InputSerializer, responses={201: FacilityOutputSerializer})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if Facility.objects.filter(slug=payload.validated_data["slug"]).exists():
            raise serializers.ValidationError({"slug": ["A facility with this slug exists already."]})
        facility = services.facility_create(**payload.validated_data)
        return Response(FacilityOutputSerializer(facility).data, status=201)
