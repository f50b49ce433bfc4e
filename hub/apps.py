from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate

from hub.schedule import periodic_tasks_upsert


class HubConfig(AppConfig):
    """The project itself: what belongs to no one app, such as the beat schedule of all of them."""

    name = "hub"
    verbose_name = "Feedback Hub"

    def ready(self) -> None:
        # Once per migrate (and flush), when django-celery-beat's tables are there.
        beat = apps.get_app_config("django_celery_beat")
        post_migrate.connect(periodic_tasks_upsert, sender=beat, dispatch_uid="hub.periodic_tasks_upsert")


class HubAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the hub's own site (hub/admin_site.py): its name, sections and dashboard."""

    default = False  # `hub` itself is HubConfig; settings name this one
    default_site = "hub.admin_site.HubAdminSite"
