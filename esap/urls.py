from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from esap import account, api as esap_api, docs, metrics_view, tokens, views
from facilities import apis as facility_apis, views as facility_views
from staging import apis as staging_apis, datalake_apis, datalake_views, views as staging_views
from staging import vo_apis, vo_views
from workflows import apis as workflow_apis, views as workflow_views

api = [
    path("facilities/", facility_apis.FacilityListApi.as_view(), name="api-facility-list"),
    path("facilities/register/", facility_apis.FacilityCreateApi.as_view(), name="api-facility-create"),
    path("facilities/<slug:slug>/", facility_apis.FacilityDetailApi.as_view(), name="api-facility-detail"),
    path("workflows/", workflow_apis.WorkflowListApi.as_view(), name="api-workflow-list"),
    path("workflows/<int:pk>/", workflow_apis.WorkflowDetailApi.as_view(), name="api-workflow-detail"),
    path("workflows/<int:pk>/versions/", workflow_apis.WorkflowVersionListApi.as_view(),
         name="api-workflow-versions"),
    path("repositories/", workflow_apis.RepositoryListApi.as_view(), name="api-repository-list"),
    path("repositories/<int:pk>/", workflow_apis.RepositoryDetailApi.as_view(), name="api-repository-detail"),
    path("repositories/<int:pk>/harvest/", workflow_apis.RepositoryHarvestApi.as_view(),
         name="api-repository-harvest"),
    path("datasets/", staging_apis.DatasetListApi.as_view(), name="api-dataset-list"),
    path("datasets/<int:pk>/", staging_apis.DatasetDetailApi.as_view(), name="api-dataset-detail"),
    path("datalakes/", datalake_apis.DataLakeListApi.as_view(), name="api-datalake-list"),
    path("datalakes/<slug:slug>/search/", datalake_apis.DataLakeSearchApi.as_view(), name="api-datalake-search"),
    path("cart/", staging_apis.CartApi.as_view(), name="api-cart"),
    path("cart/items/", staging_apis.CartItemAddApi.as_view(), name="api-cart-item-add"),
    path("cart/items/<int:pk>/", staging_apis.CartItemDeleteApi.as_view(), name="api-cart-item-delete"),
    path("cart/workflow/", staging_apis.CartWorkflowApi.as_view(), name="api-cart-workflow"),
    path("cart/facility/", staging_apis.CartFacilityApi.as_view(), name="api-cart-facility"),
    path("checkouts/", staging_apis.CheckoutListApi.as_view(), name="api-checkout-list"),
    path("checkouts/<uuid:pk>/", staging_apis.CheckoutDetailApi.as_view(), name="api-checkout-detail"),
    path("checkouts/<uuid:pk>/events/", staging_apis.CheckoutEventsApi.as_view(), name="api-checkout-events"),
    path("checkouts/<uuid:pk>/retry/", staging_apis.CheckoutRetryApi.as_view(), name="api-checkout-retry"),
    path("checkouts/<uuid:pk>/cancel/", staging_apis.CheckoutCancelApi.as_view(), name="api-checkout-cancel"),
    path("checkouts/<uuid:pk>/stop/", staging_apis.CheckoutStopApi.as_view(), name="api-checkout-stop"),
    path("vo/services/", vo_apis.VOServiceListApi.as_view(), name="api-vo-service-list"),
    path("vo/services/<slug:slug>/search/", vo_apis.VOSearchApi.as_view(), name="api-vo-search"),
    path("vo/services/<slug:slug>/cart/", vo_apis.VOCartAddApi.as_view(), name="api-vo-cart-add"),
    path("vo/services/<slug:slug>/registry/", vo_apis.VORegistrySearchApi.as_view(), name="api-vo-registry"),
    path("tokens/", tokens.TokenListApi.as_view(), name="api-token-list"),
    path("tokens/<int:pk>/", tokens.TokenRevokeApi.as_view(), name="api-token-revoke"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", docs.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: any other /api/ path answers the API's JSON 404 body, not Django's HTML page.
    re_path(r"^(?P<unmatched>.*)$", esap_api.not_found, name="api-not-found"),
]

pages = [
    path("", views.home_page, name="home"),
    path("facilities/", facility_views.facility_list_page, name="facility-list"),
    path("facilities/<slug:slug>/", facility_views.facility_detail_page, name="facility-detail"),
    path("workflows/", workflow_views.workflow_list_page, name="workflow-list"),
    path("workflows/<int:pk>/", workflow_views.workflow_detail_page, name="workflow-detail"),
    path("datasets/", staging_views.dataset_list_page, name="dataset-list"),
    path("datasets/lake/", datalake_views.datalake_search_page, name="datalake-search"),
    path("cart/", staging_views.cart_page, name="cart"),
    path("cart/add/", staging_views.cart_add, name="cart-add"),
    path("cart/remove/<int:item_id>/", staging_views.cart_remove, name="cart-remove"),
    path("cart/workflow/", staging_views.cart_workflow, name="cart-workflow"),
    path("cart/facility/", staging_views.cart_facility, name="cart-facility"),
    path("cart/checkout/", staging_views.cart_checkout, name="cart-checkout"),
    path("checkouts/", staging_views.checkout_list_page, name="checkout-list"),
    path("checkouts/<uuid:pk>/", staging_views.checkout_page, name="checkout-detail"),
    path("checkouts/<uuid:pk>/receipt/", staging_views.checkout_receipt_page, name="checkout-receipt"),
    path("launch/", staging_views.launch_link_page, name="launch-link"),
    path("vo/", vo_views.vo_search_page, name="vo-search"),
    path("vo/add/", vo_views.vo_cart_add_page, name="vo-cart-add"),
    path("account/tokens/", tokens.token_page, name="account-tokens"),
    path("account/tokens/<int:pk>/revoke/", tokens.token_revoke_page, name="account-token-revoke"),
    path("account/settings/", account.account_settings_page, name="account-settings"),
    path("checkouts/<uuid:pk>/stream/", staging_views.checkout_stream, name="checkout-stream"),
    path("checkouts/<uuid:pk>/retry/", staging_views.checkout_retry, name="checkout-retry"),
    path("checkouts/<uuid:pk>/cancel/", staging_views.checkout_cancel, name="checkout-cancel"),
    path("checkouts/<uuid:pk>/stop/", staging_views.checkout_stop, name="checkout-stop"),
    path("checkouts/<uuid:pk>/notebook/", staging_views.checkout_notebook_download, name="checkout-notebook"),
]

urlpatterns = [
    *pages,
    path("api/", include(api)),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # With ESAP_METRICS_TOKEN set, esap.health's middleware answers GET and HEAD first, whatever the Host.
    path("metrics", metrics_view.metrics, name="metrics"),
]
