"""The management API's routes (/api/), for every app."""

from rest_framework.routers import DefaultRouter

from customers.apis import AccountViewSet, PersonViewSet
from integrations.apis import InboundEventViewSet, SourceViewSet

router = DefaultRouter()
router.register("sources", SourceViewSet, basename="source")
router.register("events", InboundEventViewSet, basename="event")
router.register("people", PersonViewSet, basename="person")
router.register("accounts", AccountViewSet, basename="account")

urlpatterns = router.urls
