from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from anymail.signals import tracking

        from customers.services import PERSON_ERASE_HOOKS, PERSON_MERGE_HOOKS
        from integrations.services import event_handler_register
        from surveys.services.bounces import mail_tracking_received
        from surveys.services.people import person_erase_surveys, person_merge_surveys
        from surveys.services.triggers import surveys_process_events

        # After the customer-records handler (customers comes first in INSTALLED_APPS).
        event_handler_register(surveys_process_events)
        if person_merge_surveys not in PERSON_MERGE_HOOKS:
            PERSON_MERGE_HOOKS.append(person_merge_surveys)
        if person_erase_surveys not in PERSON_ERASE_HOOKS:
            PERSON_ERASE_HOOKS.append(person_erase_surveys)
        tracking.connect(mail_tracking_received, dispatch_uid="surveys.mail_tracking_received")
