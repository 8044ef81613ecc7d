from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from esap.api import search_query_param
from workflows import selectors
from workflows.models import Workflow


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


class WorkflowListApi(generics.ListAPIView):
    serializer_class = WorkflowOutputSerializer

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("kernel", str)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        kernel = self.request.query_params.get("kernel", "")[:100]
        return selectors.workflow_list(
            query=search_query_param(self.request), kernel=kernel,
            include_hidden=bool(self.request.user.is_staff),
        )


class WorkflowDetailApi(APIView):
    @extend_schema(responses=WorkflowOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        visible = selectors.workflow_list(include_hidden=bool(request.user.is_staff))
        return Response(WorkflowOutputSerializer(get_object_or_404(visible, pk=pk)).data)
