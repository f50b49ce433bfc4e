from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """What the answers say: NPS reports with their margins, trends, exports and comment analysis.

    Reads the surveys' data (responses, invitations, people); nothing below imports it.
    """

    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from insights.services.comments import response_saved
        from surveys.models import Response

        # Each saved answer with a comment is analysed after commit (its erasure step is named in
        # hub/pipeline.py).
        post_save.connect(response_saved, sender=Response, dispatch_uid="insights.response_saved")
