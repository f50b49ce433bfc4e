"""A survey's preview (its email and response page, per language) and "send test to me"."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern

from hub.admin import page_context, page_object
from surveys.admin.pages import SurveyPages, survey_page_url
from surveys.models import Response, Survey
from surveys.selectors import survey_languages
from surveys.services.previews import (
    email_html,
    survey_preview_email,
    survey_preview_invitation,
    survey_test_send,
)
from surveys.views import respond_preview


class SurveyPreviewPages(SurveyPages):
    def get_urls(self) -> list[URLPattern]:
        return [
            self.survey_page("preview", self.preview_view),
            self.survey_page("preview/respond", self.preview_respond_view),
            self.survey_page("send-test", self.send_test_view),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The email (HTML and text) and the response page, in the default language or a translation."""
        survey = page_object(self, request, object_id)
        languages = survey_languages(survey=survey)
        language = request.GET.get("language") or survey.default_language
        if language not in languages:
            language = survey.default_language
        email, error = survey_preview_email(survey=survey, language=language)
        context = page_context(
            self,
            request,
            survey,
            f"Preview {survey}",
            languages=languages,
            language=language,
            email=email,
            html=email_html(email) if email else "",
            error=error,
            respond_url=survey_page_url("preview_respond", survey, language=language),
            can_send_test=self.has_change_permission(request, survey),
        )
        return TemplateResponse(request, "admin/surveys/survey/preview.html", context)

    def preview_respond_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The public response page as a person sees it after clicking 9 in the email."""
        survey = page_object(self, request, object_id)
        language = request.GET.get("language") or survey.default_language
        invitation = survey_preview_invitation(survey=survey, language=language)
        response = Response(invitation=invitation, survey=survey, rating=9, language=language)
        # The public page's own code, so the preview cannot drift from what people see.
        page = respond_preview(request, invitation=invitation, response=response)
        # Shown in an iframe of the preview page, which the default X-Frame-Options: DENY forbids.
        page["X-Frame-Options"] = "SAMEORIGIN"
        return page

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        survey = page_object(self, request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(survey_page_url("preview", survey))
        if not self.has_change_permission(request, survey):  # as the action "send a test" (permissions)
            raise PermissionDenied
        language = request.POST.get("language") or survey.default_language
        self.send_test(request, survey, language)
        return HttpResponseRedirect(survey_page_url("preview", survey, language=language))

    @admin.action(description="Send a test of the selected surveys to me", permissions=["change"])
    def send_test_to_me(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        for survey in queryset:
            self.send_test(request, survey, survey.default_language)

    def send_test(self, request: HttpRequest, survey: Survey, language: str) -> None:
        """Email the preview to the staff user, and say so."""
        to = getattr(request.user, "email", "")
        if not to:
            messages.error(request, "Your user has no email address: add one to your user to receive tests.")
            return
        error = survey_test_send(survey=survey, language=language, to=to)
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"Sent a test of {survey} ({language}) to {to}.")
