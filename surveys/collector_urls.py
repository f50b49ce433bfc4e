"""The collectors' API links (surveys/collector_views.py); included at the site root by hub/urls.py."""

from django.urls import path

from surveys.collector_views import collector_api

urlpatterns = [
    # SurveyLab's shape, so a link copied from a SurveyLab setup guide only needs our host.
    path("api.php", collector_api, name="collector-api"),
    path("collect/<int:collector_id>/", collector_api, name="collector-api-by-id"),
]
