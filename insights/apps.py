from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """What the answers say: NPS reports with their margins, trends, exports and comment analysis.

    Reads the surveys' data (responses, invitations, people); nothing below imports it.
    """

    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from customers.services import PERSON_ERASE_HOOKS
        from insights.services.comments import comment_analyses_erase, response_saved
        from surveys.models import Response

        post_save.connect(response_saved, sender=Response, dispatch_uid="insights.response_saved")
        if comment_analyses_erase not in PERSON_ERASE_HOOKS:
            PERSON_ERASE_HOOKS.append(comment_analyses_erase)
