from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from customers.services import people_process_events
        from integrations.services import event_handler_register

        event_handler_register(people_process_events)
