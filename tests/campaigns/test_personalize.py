"""Personalization: each lead's own fields, fallbacks, and what the preview lists."""

import pytest

from campaigns.models import StepKind
from campaigns.personalize import render, render_parameters, required_fields
from campaigns.selectors import campaign_required_fields, enrollments_missing_fields
from tests.campaigns.conftest import enroll, make_campaign


def test_fields_and_fallbacks_are_filled_in():
    text = "Hi {{first_name|there}}, how is {{ company }}? Ref {{ref-code}} {{plan}}"

    assert render(text, {"first_name": "Ada", "company": "Acme", "ref-code": "X1"}) == (
        "Hi Ada, how is Acme? Ref X1 "
    )
    assert render(text, {"first_name": "  ", "company": "Acme"}) == "Hi there, how is Acme? Ref  "


def test_template_parameters_are_rendered_value_by_value():
    mapping = {"body": {"1": "{{first_name|there}}", "2": "{{company}}"}, "header": ["{{city}}"]}

    assert render_parameters(mapping, {"company": "Acme", "city": "Leeds"}) == {
        "body": {"1": "there", "2": "Acme"},
        "header": ["Leeds"],
    }


def test_a_field_counts_as_required_unless_every_use_has_a_fallback():
    texts = ["{{first_name|there}} {{company}}", {"body": {"1": "{{first_name}}", "2": "{{x|y}}"}}]

    assert required_fields(texts) == ["first_name", "company"]


@pytest.mark.django_db
def test_the_preview_lists_the_enrollments_lacking_a_needed_field(sms):
    campaign = make_campaign(
        sms,
        [
            {"kind": StepKind.TEXT, "text": "Hi {{first_name|there}} at {{company}}"},
            {"kind": StepKind.TEXT, "text": "Still at {{company}}, {{role}}?", "delay_amount": 1},
        ],
    )
    complete, no_role, nothing = enroll(
        campaign,
        {"company": "Acme", "role": "CTO"},
        {"company": "Beta"},
        {},
    )

    assert campaign_required_fields(campaign=campaign) == ["company", "role"]
    missing = {
        row.enrollment_id: row.missing for row in enrollments_missing_fields(campaign=campaign)
    }
    assert missing == {no_role.pk: ["role"], nothing.pk: ["company", "role"]}
    assert complete.pk not in missing
