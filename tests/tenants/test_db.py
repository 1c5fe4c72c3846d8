"""The shared bulk writes (tenants.db): what they write is what the ORM would."""

from datetime import timedelta

import pytest
from django.db import DataError, transaction
from django.utils import timezone

from conversations.models import Contact
from tenants.db import rows_insert, rows_update_together
from tests.markers import postgresql_only

pytestmark = [pytest.mark.django_db, postgresql_only("the arrays are PostgreSQL's")]


def test_rows_insert_writes_in_order_and_gives_the_rest_their_defaults(organization):
    now = timezone.now() - timedelta(days=1)
    ids = rows_insert(
        Contact, {"organization_id": [organization.pk] * 2, "name": ["Ana", "Bo"]}, now=now
    )
    rows = [Contact.objects.get(pk=pk) for pk in ids]
    assert [(c.name, c.phone) for c in rows] == [("Ana", ""), ("Bo", "")]
    assert {(c.created_at, c.updated_at) for c in rows} == {(now, now)}


def test_a_value_too_long_is_refused_not_cut_short(organization):
    with pytest.raises(DataError), transaction.atomic():
        rows_insert(
            Contact, {"organization_id": [organization.pk], "phone": ["1" * 21]}, now=timezone.now()
        )
    contact = Contact.objects.create(organization=organization, phone="+16505551234")
    contact.phone = "2" * 21
    with pytest.raises(DataError), transaction.atomic():
        rows_update_together([contact], ["phone"])
    contact.refresh_from_db()
    assert contact.phone == "+16505551234"
