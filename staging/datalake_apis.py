"""REST endpoints of data lakes: which lakes there are, and a search that adds what it finds to the
catalogue (any logged-in user: the results are what the portal's own Rucio account can see)."""
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from staging.apis import DatasetOutputSerializer
from staging.datalakes import datalake_list, datalake_search

NAME_PATTERN = r"^[A-Za-z0-9.\-_*]{1,250}$"


class DataLakeOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    server_url = serializers.URLField()


class DataLakeSearchOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many datasets were found (all of them are in results).")
    results = DatasetOutputSerializer(many=True)


class DataLakeListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=DataLakeOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(DataLakeOutputSerializer(datalake_list(), many=True).data)


class DataLakeSearchApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema_serializer(component_name="DataLakeSearchInput")
    class InputSerializer(serializers.Serializer):
        scope = serializers.RegexField(r"^[A-Za-z0-9.\-_]{1,25}$")
        name = serializers.RegexField(NAME_PATTERN, required=False, default="*")
        metadata = serializers.DictField(child=serializers.CharField(max_length=200), required=False,
                                         default=dict)
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=50)

    @extend_schema(request=InputSerializer, responses=DataLakeSearchOutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        datasets = datalake_search(slug=slug, **payload.validated_data)
        results = DatasetOutputSerializer(datasets, many=True).data
        return Response({"count": len(datasets), "results": results})
