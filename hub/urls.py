from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("integrations.segment.urls")),
    path("", include("surveys.collector_urls")),
    path("api/", include("hub.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page for people: without a staff login it sends them to the admin's login, then back.
    path(
        "api/docs/",
        staff_member_required(SpectacularSwaggerView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path("", include("surveys.urls")),
]
