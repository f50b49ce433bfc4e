from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from customers.models import Person, person_delete_guard
        from customers.services import people_process_events
        from integrations.services import event_handler_register

        event_handler_register(people_process_events)
        pre_delete.connect(person_delete_guard, sender=Person, dispatch_uid="person_delete_guard")
