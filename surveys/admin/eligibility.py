"""Why (not) surveyed: the decision the hub would make now for one person and a survey, rule by rule."""

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern
from django.utils import timezone

from hub.admin import page_context, page_object
from surveys.admin.pages import SurveyPages
from surveys.selectors import survey_people_find
from surveys.services.eligibility import eligibility_explain


class SurveyEligibilityPages(SurveyPages):
    def get_urls(self) -> list[URLPattern]:
        return [self.survey_page("eligibility", self.eligibility_view), *super().get_urls()]

    def eligibility_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Pick a person by userId or email (or follow an invitation's link, ?person=<id>)."""
        survey = page_object(self, request, object_id)
        query = request.GET.get("q", "").strip()
        person_id = request.GET.get("person", "")
        people = survey_people_find(survey=survey, query=query, person_id=person_id)
        person = people[0] if len(people) == 1 else None
        now = timezone.now()
        context = page_context(
            self,
            request,
            survey,
            f"Why (not) surveyed: {survey}",
            query=query or (person.user_id or person.email if person else ""),
            people=people,
            person=person,
            decision=eligibility_explain(survey=survey, person=person, now=now) if person else None,
            now=now,
            searched=bool(query or person_id),
        )
        return TemplateResponse(request, "admin/surveys/survey/eligibility.html", context)
