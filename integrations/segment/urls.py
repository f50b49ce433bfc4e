"""Segment HTTP Tracking API routes, mounted at /v1/.

No trailing slash (a slash redirect would lose the POST body, gotcha 4), plus `/v1/import/` with one
as segment-import uses it. Each route also takes a trailing slash, as clients differ.
"""

from django.urls import re_path

from integrations.segment.calls import ENDPOINT_CALL_TYPES
from integrations.segment.views import SegmentIntakeView

urlpatterns = [
    re_path(r"^(?:batch|import)/?$", SegmentIntakeView.as_view(call_type=None), name="segment-batch"),
    *[
        re_path(
            rf"^{call_type}/?$", SegmentIntakeView.as_view(call_type=call_type), name=f"segment-{call_type}"
        )
        for call_type in ENDPOINT_CALL_TYPES
    ],
]
