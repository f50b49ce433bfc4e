from django.apps import AppConfig


class ActionsConfig(AppConfig):
    """Acting on answers the minute they arrive: alert rules, auto-replies and close-the-loop cases.

    Reacts to surveys' answers through hub/pipeline.py RESPONSE_HOOKS (surveys never imports it);
    nothing below imports it.
    """

    name = "actions"
    verbose_name = "Acting on answers"
