"""The one-question "did we solve it?" page of a closed case. A GET only shows the question (mail
scanners open every link); only the page's POST (CSRF-protected) records the answer, as on the survey
pages. Any token, body or header gets a page in the survey's style or a neutral one, never an error."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from actions.services.cases import CaseLinkInvalid, case_followup_answer, case_of_link
from surveys.views import Look, invitation_look, throttled

ANSWERS = {"yes": True, "no": False}


@never_cache
@throttled()
@require_http_methods(["GET", "HEAD", "POST"])
def case_followup(request: HttpRequest, token: str) -> HttpResponse:
    try:
        case = case_of_link(token=token)
    except CaseLinkInvalid:
        return render(request, "actions/followup_invalid.html", {"look": Look()}, status=404)
    look = invitation_look(invitation=case.response.invitation)
    if request.method == "POST":
        answer = request.POST.get("solved", "")
        if answer not in ANSWERS:
            context = {"look": look, "error": "Please choose Yes or No."}
            return render(request, "actions/followup.html", context, status=400)
        case = case_followup_answer(case=case, solved=ANSWERS[answer])
        return render(request, "actions/followup_thanks.html", {"look": look, "solved": case.solved})
    return render(request, "actions/followup.html", {"look": look})
