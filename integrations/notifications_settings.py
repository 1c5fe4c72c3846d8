"""A person's notification settings: read and changed by themselves only (the admin's
"My notification settings" page, `GET/PATCH /api/v1/me/notifications`)."""

from integrations.notifications_models import NotificationSetting


def notification_setting_get(*, user) -> NotificationSetting:
    """Their settings; the defaults (unsaved) while they never changed them."""
    found = NotificationSetting.objects.filter(user=user).first()
    return found or NotificationSetting(user=user)


def notification_setting_update(*, user, reply_emails: bool) -> NotificationSetting:
    setting, _ = NotificationSetting.objects.update_or_create(
        user=user, defaults={"reply_emails": reply_emails}
    )
    return setting
