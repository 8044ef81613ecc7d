from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from esap.api import CappedPageNumberPagination, search_query_param
from workflows import selectors, services
from workflows.models import Repository


class ParameterOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    default = serializers.JSONField()
    type_name = serializers.CharField()
    comment = serializers.CharField(allow_null=True, required=False)


class WorkflowOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    keywords = serializers.ListField(source="keyword_list", child=serializers.CharField())
    repository_url = serializers.CharField()
    ref = serializers.CharField()
    commit_sha = serializers.CharField()
    notebook_path = serializers.CharField()
    kernel_name = serializers.CharField()
    parameters = ParameterOutputSerializer(many=True)
    environment = serializers.JSONField()


class WorkflowListApi(generics.ListAPIView):
    serializer_class = WorkflowOutputSerializer
    pagination_class = CappedPageNumberPagination

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("kernel", str)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        kernel = self.request.query_params.get("kernel", "")[:100]
        return selectors.workflow_list(
            query=search_query_param(self.request), kernel=kernel,
            viewer=self.request.user,
        )


class WorkflowDetailApi(APIView):
    @extend_schema(responses=WorkflowOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        visible = selectors.workflow_list(viewer=request.user)
        return Response(WorkflowOutputSerializer(get_object_or_404(visible, pk=pk)).data)


class RepositoryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    ref = serializers.CharField()
    is_public = serializers.BooleanField()
    status = serializers.CharField()
    commit_sha = serializers.CharField()
    harvested_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    problems = serializers.JSONField()
    environment = serializers.JSONField()
    workflows = serializers.SerializerMethodField()

    def get_workflows(self, repository) -> list[int]:
        listed = getattr(repository, "listed_workflows", None)  # read with the list (repository_list)
        if listed is None:
            return list(repository.workflows.values_list("pk", flat=True))
        return [workflow.pk for workflow in listed]


class RepositoryListApi(generics.ListAPIView):
    """GET: harvested repositories. POST (operators): register one, or one already registered again (its
    is_public, when given, then applies to it and its workflows); it is harvested right away."""

    serializer_class = RepositoryOutputSerializer
    permission_classes = [permissions.IsAdminUser]

    @extend_schema_serializer(component_name="RepositoryRegisterInput")
    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=500)
        ref = serializers.CharField(max_length=200, default="main")
        # Omitted: a new repository is public, a known one keeps its visibility.
        is_public = serializers.BooleanField(allow_null=True, default=None)

    def get_queryset(self):
        return selectors.repository_list()

    @extend_schema(request=InputSerializer, responses={202: RepositoryOutputSerializer})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        repository = services.repository_register(**payload.validated_data)
        return Response(RepositoryOutputSerializer(repository).data, status=202)


class RepositoryDetailApi(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(responses=RepositoryOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(RepositoryOutputSerializer(Repository.objects.get(pk=pk)).data)


class RepositoryHarvestApi(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=None, responses={202: RepositoryOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        repository = Repository.objects.get(pk=pk)
        with transaction.atomic():
            services.repository_enqueue_harvest(repository=repository)
        return Response(RepositoryOutputSerializer(repository).data, status=202)


class VersionOutputSerializer(serializers.Serializer):
    commit_sha = serializers.CharField()
    title = serializers.CharField()
    kernel_name = serializers.CharField()
    parameters = ParameterOutputSerializer(many=True)
    created_at = serializers.DateTimeField()


class WorkflowVersionListApi(APIView):
    @extend_schema(responses=VersionOutputSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        visible = selectors.workflow_list(viewer=request.user)
        workflow = get_object_or_404(visible, pk=pk)
        return Response(VersionOutputSerializer(workflow.versions.all(), many=True).data)
