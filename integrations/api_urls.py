from rest_framework.routers import DefaultRouter

from integrations.apis import InboundEventViewSet, SourceViewSet

router = DefaultRouter()
router.register("sources", SourceViewSet, basename="source")
router.register("events", InboundEventViewSet, basename="event")

urlpatterns = router.urls
