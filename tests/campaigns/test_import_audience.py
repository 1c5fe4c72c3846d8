"""Putting leads into a campaign: contacts found or created, already enrolled ones
skipped, and nothing half-imported."""

import pytest

from campaigns import audience
from campaigns.audience import audience_import, enrollments_add_contacts
from campaigns.leads import Needs, leads_parse
from campaigns.models import Campaign, CampaignStatus, Enrollment
from conversations.models import Contact, ContactIdentity
from providers import Provider
from tenants.errors import ApplicationError
from tests.factories import ChannelFactory, ContactFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

CSV = (
    "phone,first_name,company,plan\n"
    "+16505551234,Kim,Acme,gold\n"
    "(650) 555-9876,Lou,Globex,\n"
    "6505551234,Kimberly,,silver\n"
)


def _import(campaign, text=CSV, **options):
    parsed = leads_parse(data=text.encode(), needs=Needs.PHONE, default_region="US")
    return audience_import(campaign=campaign, parsed=parsed, **options)


def test_leads_become_contacts_and_enrollments_with_their_fields(campaign, organization):
    # given Lou is a contact already, known by number
    lou = ContactFactory(organization=organization, phone="+16505559876", name="")

    # when the file is imported
    report = _import(campaign)

    # then two leads (Kim's second line merged), one new contact, Lou found
    assert (report.imported, report.leads, report.duplicates) == (True, 2, 1)
    assert (report.contacts_created, report.contacts_found, report.enrolled) == (1, 1, 2)
    kim = Enrollment.objects.get(campaign=campaign, contact__phone="+16505551234")
    assert kim.fields == {
        "first_name": "Kim",
        "name": "Kim",
        "company": "Acme",
        "plan": "gold",
        "phone": "+16505551234",
    }
    assert Enrollment.objects.get(campaign=campaign, contact=lou).fields["company"] == "Globex"
    lou.refresh_from_db()
    assert lou.name == "Lou"  # a contact without a name takes the lead's
    # the channel knows the new contact by number: a reply finds it
    assert ContactIdentity.objects.filter(
        channel=campaign.channel, value="+16505551234", contact=kim.contact
    ).exists()


def test_a_contact_already_enrolled_is_skipped_and_counted(campaign):
    _import(campaign, "phone\n+16505551234\n")

    report = _import(campaign)

    assert (report.enrolled, report.already_enrolled, report.already_enrolled_lines) == (1, 1, [2])
    assert Enrollment.objects.filter(campaign=campaign).count() == 2


def test_a_line_in_error_imports_nothing_unless_skipped(campaign):
    text = CSV + "555-12,Bad,,\n"

    report = _import(campaign, text)
    assert (report.imported, len(report.errors)) == (False, 1)
    assert not Enrollment.objects.exists()
    assert not Contact.objects.exists()

    report = _import(campaign, text, skip_invalid=True)
    assert (report.imported, report.enrolled, report.skipped_invalid) == (True, 2, 1)


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(campaign):
    report = _import(campaign, dry_run=True)

    assert (report.dry_run, report.imported, report.enrolled, report.contacts_created) == (
        True,
        False,
        2,
        2,
    )
    assert not Contact.objects.exists()
    assert not Enrollment.objects.exists()


def test_a_failure_midway_leaves_nothing_behind(campaign, monkeypatch):
    # given batches of one lead, and the second batch failing (a crash, a lost database)
    monkeypatch.setattr(audience, "BATCH", 1)
    enroll, calls = audience._enroll, []

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        enroll(*args)

    monkeypatch.setattr(audience, "_enroll", failing)

    # when the import runs, then it fails, and the first batch is not kept
    with pytest.raises(RuntimeError):
        _import(campaign)
    assert not Enrollment.objects.exists()
    assert not Contact.objects.exists()


def test_a_finished_campaign_takes_no_leads(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED)
    with pytest.raises(ApplicationError) as refused:
        _import(campaign)
    assert refused.value.details["campaign"][0]["code"] == "finished"


def test_existing_contacts_are_enrolled_with_their_name(campaign, organization):
    kim = ContactFactory(organization=organization, name="Kim Lee", phone="+16505551234")
    report = enrollments_add_contacts(campaign=campaign, contact_ids=[kim.pk, kim.pk])

    assert (report.enrolled, report.duplicates) == (1, 1)
    enrollment = Enrollment.objects.get(contact=kim)
    assert enrollment.fields["first_name"] == "Kim"
    assert enrollment.fields["last_name"] == "Lee"

    again = enrollments_add_contacts(campaign=campaign, contact_ids=[kim.pk])
    assert (again.enrolled, again.already_enrolled) == (0, 1)


def test_another_organizations_contact_is_refused(campaign):
    theirs = ContactFactory(organization=OrganizationFactory())
    with pytest.raises(ApplicationError) as refused:
        enrollments_add_contacts(campaign=campaign, contact_ids=[theirs.pk])
    assert "contacts" in refused.value.details
    assert not Enrollment.objects.exists()


def test_linkedin_leads_are_found_again_by_profile_or_member_id(organization):
    # given a LinkedIn campaign
    channel = ChannelFactory(organization=organization, provider=Provider.UNIPILE)
    campaign = Campaign.objects.create(organization=organization, channel=channel, name="LI")
    text = (
        "linkedin,name\nhttps://www.linkedin.com/in/kim-lee,Kim Lee\n"
        "ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E,Lou Park\n"
    )

    def run(target):
        parsed = leads_parse(data=text.encode(), needs=Needs.LINKEDIN)
        return audience_import(campaign=target, parsed=parsed)

    report = run(campaign)
    assert (report.enrolled, report.contacts_created) == (2, 2)
    kim = Enrollment.objects.get(fields__linkedin="kim-lee").contact
    assert kim.name == "Kim Lee"
    # a member id is the identity a reply from that member carries
    assert ContactIdentity.objects.filter(
        channel=channel, kind="provider_id", value="ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E"
    ).exists()

    # when the same people are loaded into a second campaign, then no new contacts
    second = Campaign.objects.create(organization=organization, channel=channel, name="LI 2")
    report = run(second)
    assert (report.enrolled, report.contacts_created, report.contacts_found) == (2, 0, 2)
    assert Enrollment.objects.get(campaign=second, fields__linkedin="kim-lee").contact == kim
