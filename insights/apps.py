from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """What the answers say: NPS reports with their margins, trends, exports and comment analysis.

    Reads the surveys' data (responses, invitations, people); nothing below imports it.
    """

    name = "insights"
    verbose_name = "Insights"
