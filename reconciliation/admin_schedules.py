"""The periodic tasks' admin (django-celery-beat's) with schedules in words.

Beat's own list shows a crontab as "30 2 * * 1 (m/h/dM/MY/d) UTC"; operators read
"At 02:30 AM, only on Monday UTC". Still for superusers only (config.apps)."""

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from tenants.admin_scope import SuperuserOnlyAdmin


def schedule_in_words(task: PeriodicTask) -> str:
    if task.crontab_id:
        return task.crontab.human_readable
    if task.interval_id:
        return interval_in_words(task.interval.schedule.run_every.total_seconds())
    schedule = task.solar or task.clocked
    return str(schedule) if schedule else "—"


UNITS = [("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]


def interval_in_words(seconds: float) -> str:
    """ "Every minute", "Every 15 minutes", "Every 6 hours": beat stores 900 seconds."""
    seconds = int(seconds)
    for unit, size in UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return f"Every {seconds} seconds"


class ReadablePeriodicTaskAdmin(SuperuserOnlyAdmin, PeriodicTaskAdmin):
    list_display = ["name", "enabled", "when", "last_run_at", "one_off"]
    list_select_related = ["crontab", "interval", "solar", "clocked"]

    @admin.display(description="When")
    def when(self, obj: PeriodicTask) -> str:
        return schedule_in_words(obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "crontab" and formfield is not None:
            formfield.label_from_instance = lambda crontab: crontab.human_readable
        return formfield


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, ReadablePeriodicTaskAdmin)
