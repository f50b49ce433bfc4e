from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from anymail.signals import tracking

        from surveys.services.bounces import mail_tracking_received

        tracking.connect(mail_tracking_received, dispatch_uid="surveys.mail_tracking_received")
