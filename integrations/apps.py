from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from customers.services import PERSON_ERASE_HOOKS
        from integrations.forwarding import segment_events_forward
        from integrations.segment.sync_back import sync_back_erase
        from integrations.services import event_handler_register

        event_handler_register(segment_events_forward)
        if sync_back_erase not in PERSON_ERASE_HOOKS:
            PERSON_ERASE_HOOKS.append(sync_back_erase)
