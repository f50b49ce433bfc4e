"""Consoles of other apps (django-celery-beat, django-axes), with their actions offered only to staff
allowed to do what they do."""

from axes import admin as axes_admin
from axes.models import AccessAttempt
from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from hub.admin import action_needing

admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    # hub/schedule.py declares the tasks; enabling, disabling and running them (a sync-back, a
    # dispatch) change what the hub does.
    actions = [
        action_needing(getattr(beat_admin.PeriodicTaskAdmin, name), "change")
        for name in beat_admin.PeriodicTaskAdmin.actions
    ]


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    # The admin's failed logins (django-axes): cleaning up deletes them.
    actions = [action_needing(axes_admin.AccessAttemptAdmin.cleanup_expired_attempts, "delete")]
