"""The management API's routes (/api/), for every app."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from customers.apis import AccountViewSet, PersonViewSet
from insights.apis import ResponsesExportView, SurveyReportView
from integrations.apis import DeliveryViewSet, DestinationViewSet, InboundEventViewSet, SourceViewSet
from surveys.apis import (
    InvitationViewSet,
    PersonEligibilityView,
    ResponseViewSet,
    SurveyViewSet,
)
from surveys.collector_apis import CollectorViewSet

router = DefaultRouter()
router.register("sources", SourceViewSet, basename="source")
router.register("events", InboundEventViewSet, basename="event")
router.register("destinations", DestinationViewSet, basename="destination")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("people", PersonViewSet, basename="person")
router.register("accounts", AccountViewSet, basename="account")
router.register("surveys", SurveyViewSet, basename="survey")
router.register("invitations", InvitationViewSet, basename="invitation")
router.register("responses", ResponseViewSet, basename="response")
router.register("collectors", CollectorViewSet, basename="collector")

urlpatterns = [
    # Before the router's routes: "responses/export/" would otherwise be the answer "export".
    path("surveys/<str:pk>/report/", SurveyReportView.as_view(), name="survey-report"),
    path("responses/export/", ResponsesExportView.as_view(), name="responses-export"),
    path("people/<int:pk>/eligibility/", PersonEligibilityView.as_view(), name="person-eligibility"),
    *router.urls,
]
