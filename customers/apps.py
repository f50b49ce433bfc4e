from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from customers.models import Person, person_delete_guard

        pre_delete.connect(person_delete_guard, sender=Person, dispatch_uid="person_delete_guard")
