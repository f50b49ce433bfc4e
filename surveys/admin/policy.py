"""The survey policy: one row of hub-wide limits, which the list opens directly."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from surveys.models import SurveyPolicy


@admin.register(SurveyPolicy)
class SurveyPolicyAdmin(admin.ModelAdmin[SurveyPolicy]):
    fields = ["global_cap_days"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SurveyPolicy | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        policy = SurveyPolicy.current()
        return HttpResponseRedirect(reverse("admin:surveys_surveypolicy_change", args=[policy.pk]))
