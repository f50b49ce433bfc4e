"""The admin site of Feedback Hub: its name, the order of its sections (as staff use them: surveys,
people, sources and events, destinations and deliveries, then settings) and its home page, a dashboard
(templates/admin/index.html) whose checklist and figures come from `insights/dashboard.py`."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

# (section, [(app_label, model_name), ...]) in the order staff use them. A registered model missing
# here is listed under "Settings", after the ones named.
SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Surveys",
        [
            ("surveys", "survey"),
            ("surveys", "collector"),
            ("surveys", "invitation"),
            ("surveys", "response"),
            ("insights", "surveyreport"),
            ("insights", "reportsubscription"),
            ("insights", "reportsending"),
            ("testimonials", "testimonial"),
            ("insights", "commentanalysis"),
            ("insights", "theme"),
        ],
    ),
    (
        "Acting on answers",
        [
            ("actions", "case"),
            ("actions", "alertrule"),
            ("actions", "autoreply"),
            ("actions", "alertfiring"),
            ("actions", "autoreplysend"),
        ],
    ),
    (
        "People",
        [
            ("customers", "person"),
            ("customers", "account"),
            ("customers", "suppression"),
            ("customers", "deletionreceipt"),
        ],
    ),
    ("Sources & events", [("integrations", "source"), ("integrations", "inboundevent")]),
    (
        "Destinations & deliveries",
        [("integrations", "destination"), ("integrations", "delivery"), ("integrations", "mappingset")],
    ),
    (
        "Settings",
        [
            ("surveys", "surveypolicy"),
            ("testimonials", "testimonialsettings"),
            ("authtoken", "tokenproxy"),
            ("django_celery_beat", "periodictask"),
            ("auth", "user"),
            ("auth", "group"),
        ],
    ),
]


def sections_arrange(app_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Django's per-app list (only what the user may see) regrouped into SECTIONS; empty sections go."""
    models = {
        (app["app_label"], model["object_name"].lower()): (app, model)
        for app in app_list
        for model in app["models"]
    }
    sections = []
    for index, (name, members) in enumerate(SECTIONS):
        found = [models.pop(member) for member in members if member in models]
        if name == "Settings":
            found += sorted(models.values(), key=lambda pair: (pair[0]["name"], pair[1]["name"]))
        if not found:
            continue
        sections.append(
            {
                "name": name,
                "app_label": f"section-{index}",
                "app_url": "",  # a section has no page (templates/admin/app_list.html)
                "has_module_perms": True,
                # Each row keeps its app's label, so its id stays "<app>-<model>" (app_list.html).
                "models": [{**model, "app_label": app["app_label"]} for app, model in found],
            }
        )
    return sections


class HubAdminSite(admin.AdminSite):
    site_header = "Feedback Hub"
    site_title = "Feedback Hub"
    index_title = "Dashboard"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        # An app's own page (/admin/<app>/) keeps Django's list of that app.
        return app_list if app_label else sections_arrange(app_list)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from insights import dashboard  # the top of the stack: it reads every app

        user = request.user
        steps = dashboard.onboarding_steps()
        context: dict[str, Any] = {
            "steps": steps,
            "onboarding_done": all(step.done for step in steps),
            "running": dashboard.hub_is_running(),
        }
        if user.has_perm("integrations.view_source"):  # the snippet carries a write key
            context["first_call"] = dashboard.first_call()
        if context["running"]:
            context["figures"] = dashboard.figures()
            context["nps_days"] = dashboard.NPS_DAYS
        return super().index(request, {**context, **(extra_context or {})})
