"""The one-question "did we solve it?" page of a closed case. A GET only shows the question (mail
scanners open every link); only the page's POST (CSRF-protected) records the answer, as on the survey
pages. Any token, body or header gets a page in the survey's style or a neutral one, never an error."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from actions.services.cases import CaseLinkInvalid, case_followup_answer, case_of_link
from surveys.views import Look, page_look, page_render, throttled

ANSWERS = {"yes": True, "no": False}


@never_cache
@throttled()
@require_http_methods(["GET", "HEAD", "POST"])
def case_followup(request: HttpRequest, token: str) -> HttpResponse:
    try:
        case = case_of_link(token=token)
    except CaseLinkInvalid:
        return page_render(request, "actions/followup_invalid.html", Look(), {}, status=404)
    look = page_look(case.response.invitation, "")  # no unsubscribe link: this page is about the case
    if request.method == "POST":
        answer = request.POST.get("solved", "")
        if answer not in ANSWERS:
            return page_render(
                request, "actions/followup.html", look, {"error": "Please choose Yes or No."}, 400
            )
        case = case_followup_answer(case=case, solved=ANSWERS[answer])
        return page_render(request, "actions/followup_thanks.html", look, {"solved": case.solved})
    return page_render(request, "actions/followup.html", look, {})
