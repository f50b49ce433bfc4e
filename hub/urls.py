from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hub import views
from hub.api import api_not_found, intake_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("integrations.segment.urls")),
    re_path(r"^v1/", intake_not_found),  # after the intake's routes: JSON, never an HTML page
    path("", include("surveys.collector_urls")),
    path("api/", include("hub.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page for people: without a staff login it sends them to the admin's login, then back.
    path(
        "api/docs/",
        staff_member_required(SpectacularSwaggerView.as_view(url_name="schema")),
        name="api-docs",
    ),
    re_path(r"^api/", api_not_found),  # after every API route: JSON, never Django's HTML 404
    path("", include("testimonials.urls")),
    path("", include("surveys.urls")),
    path("", include("actions.urls")),
    path("", views.home, name="home"),
    # Last: any other address gets the friendly 404 page (Django's slash redirect kept).
    re_path(r"^", views.address_unknown),
]

handler404 = "hub.views.page_not_found"

if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    # An ESP's bounce reports (surveys/services/bounces.py). Without the secret anybody could post
    # "bounced" for any address, so without it the webhooks are not served at all.
    urlpatterns.insert(0, path("anymail/", include("anymail.urls")))
