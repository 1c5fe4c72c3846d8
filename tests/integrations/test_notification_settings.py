"""Each person's own notification settings: the API and the admin page, and nobody
else's reachable from either."""

import pytest
from django.urls import reverse

from integrations.models import NotificationSetting
from integrations.notifications_settings import notification_setting_update
from tenants.models import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/notifications"


def test_reply_emails_are_on_until_turned_off(viewer_client):
    assert viewer_client.get(URL).json() == {"reply_emails": True}

    response = viewer_client.patch(URL, {"reply_emails": False}, format="json")

    assert response.status_code == 200
    assert response.json() == {"reply_emails": False}
    assert viewer_client.get(f"{URL}/").json() == {"reply_emails": False}
    assert NotificationSetting.objects.get().user == viewer_client.user


def test_a_change_is_one_s_own(admin_client, agent_client):
    admin_client.patch(URL, {"reply_emails": False}, format="json")

    assert agent_client.get(URL).json() == {"reply_emails": True}
    assert list(NotificationSetting.objects.values_list("user", flat=True)) == [
        admin_client.user.pk
    ]


def test_an_empty_patch_changes_nothing_and_stores_nothing(agent_client):
    assert agent_client.patch(URL, {}, format="json").json() == {"reply_emails": True}
    assert not NotificationSetting.objects.exists()


def test_a_bad_value_is_a_validation_error(agent_client):
    response = agent_client.patch(URL, {"reply_emails": "perhaps"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert "reply_emails" in body["details"]


def test_anonymous_is_refused(anonymous_client):
    response = anonymous_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


# The admin page


@pytest.fixture
def member(client, organization):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.VIEWER)
    client.force_login(user)
    client.user = user
    return client


def test_every_page_links_to_one_s_settings(member):
    page = member.get(reverse("admin:index")).content.decode()

    assert reverse("admin:my_notifications") in page


def test_a_viewer_turns_them_off_and_on_in_the_admin(member):
    url = reverse("admin:my_notifications")
    page = member.get(url).content.decode()
    assert 'name="reply_emails"' in page
    assert "checked" in page
    assert member.user.email in page

    response = member.post(url, {})  # the box unticked
    assert response.status_code == 302
    assert NotificationSetting.objects.get(user=member.user).reply_emails is False
    assert "checked" not in member.get(url).content.decode().split('name="reply_emails"')[1][:40]

    member.post(url, {"reply_emails": "on"})
    assert NotificationSetting.objects.get(user=member.user).reply_emails is True


def test_the_admin_page_never_touches_another_person_s_settings(member):
    other = UserFactory()
    notification_setting_update(user=other, reply_emails=False)

    member.post(reverse("admin:my_notifications"), {"reply_emails": "on", "user": other.pk})

    assert NotificationSetting.objects.get(user=other).reply_emails is False


def test_signed_out_the_page_asks_to_sign_in(client):
    response = client.get(reverse("admin:my_notifications"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
