import pytest
from rest_framework.test import APIClient

from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_me_lists_the_users_organizations_and_roles():
    user = UserFactory(username="sam")
    MembershipFactory(user=user, organization=OrganizationFactory(slug="acme"), role="admin")
    MembershipFactory(user=user, organization=OrganizationFactory(slug="beta"), role="viewer")
    client = APIClient()
    client.force_authenticate(user)

    body = client.get("/api/v1/me").json()

    assert body["user"]["username"] == "sam"
    assert {(o["slug"], o["role"]) for o in body["organizations"]} == {
        ("acme", "admin"),
        ("beta", "viewer"),
    }


def test_member_of_several_organizations_chooses_one_with_a_header():
    user = UserFactory()
    acme = OrganizationFactory(slug="acme")
    beta = OrganizationFactory(slug="beta")
    MembershipFactory(user=user, organization=acme, role="viewer")
    MembershipFactory(user=user, organization=beta, role="viewer")
    acme_channel = ChannelFactory(organization=acme)
    client = APIClient()
    client.force_authenticate(user)

    ambiguous = client.get("/api/v1/channels/")
    chosen = client.get("/api/v1/channels/", HTTP_X_ORGANIZATION="acme")

    assert ambiguous.status_code == 400
    assert set(ambiguous.json()["details"]["organizations"]) == {"acme", "beta"}
    assert [c["id"] for c in chosen.json()["results"]] == [acme_channel.id]


def test_naming_an_organization_you_do_not_belong_to_is_404():
    membership = MembershipFactory(role="admin")
    OrganizationFactory(slug="secret-org")
    client = APIClient()
    client.force_authenticate(membership.user)

    response = client.get("/api/v1/channels/", HTTP_X_ORGANIZATION="secret-org")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_user_without_organization_is_403():
    client = APIClient()
    client.force_authenticate(UserFactory())

    response = client.get("/api/v1/channels/")

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_inactive_organization_is_not_usable():
    membership = MembershipFactory(organization=OrganizationFactory(is_active=False))
    client = APIClient()
    client.force_authenticate(membership.user)

    assert client.get("/api/v1/channels/").status_code == 403
