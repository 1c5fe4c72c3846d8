"""Put leads into a campaign: from a CSV file, a JSON list, or existing contacts.

All or nothing: one transaction, the campaign's row locked (two imports into one
campaign never interleave), and any line in error imports nothing unless the caller
chose to skip the invalid lines. A dry run goes through exactly the same steps and
rolls back, so what it reports (contacts new and found, already enrolled) is what the
import would do.

Contacts are found or created with `conversations`' own resolution (the identities on
the campaign's channel first, then the same phone number in the organization), so a
lead who later writes in lands on the contact the campaign enrolled. A LinkedIn lead
given by its public profile (a URL, not a member id) has no identity until the
LinkedIn step resolves it: it is found again through the profile kept in an earlier
enrollment's fields (`fields["linkedin"]`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from campaigns.leads import Lead, LineError, Needs, ParsedLeads
from campaigns.models import Campaign, CampaignStatus, Enrollment
from conversations.batch import contacts_resolve
from conversations.models import Contact, ContactIdentity
from providers import Provider
from providers.events import ContactRef
from tenants.db import rows_update
from tenants.errors import ApplicationError, ErrorCode, field_error

BATCH = 1000
# Statuses in which a campaign takes new leads.
OPEN_STATUSES = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.RUNNING,
    CampaignStatus.PAUSED,
)
MAX_LISTED_LINES = 1000  # lines named in a report's lists; counts are always whole

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    leads: int = 0
    duplicates: int = 0
    errors: list[LineError] = field(default_factory=list)
    imported: bool = False  # False: nothing was written (dry run, or errors)
    skipped_invalid: int = 0  # lines in error left out on purpose (skip_invalid)
    contacts_created: int = 0
    contacts_found: int = 0
    enrolled: int = 0
    already_enrolled: int = 0
    already_enrolled_lines: list[int] = field(default_factory=list)
    merged: list[dict] = field(default_factory=list)  # {"line", "merged_lines"}

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "imported": self.imported,
            "rows": self.rows,
            "leads": self.leads,
            "duplicates": self.duplicates,
            "contacts_created": self.contacts_created,
            "contacts_found": self.contacts_found,
            "enrolled": self.enrolled,
            "already_enrolled": self.already_enrolled,
            "already_enrolled_lines": self.already_enrolled_lines[:MAX_LISTED_LINES],
            "skipped_invalid": self.skipped_invalid,
            "merged": self.merged[:MAX_LISTED_LINES],
            "errors": [error.as_dict() for error in self.errors[:MAX_LISTED_LINES]],
            "error_count": len(self.errors),
        }


def campaign_needs(campaign: Campaign) -> Needs:
    """What names a lead on the campaign's channel: LinkedIn runs through Unipile."""
    return Needs.LINKEDIN if campaign.channel.provider == Provider.UNIPILE else Needs.PHONE


def audience_import(
    *,
    campaign: Campaign,
    parsed: ParsedLeads,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Enroll the parsed leads. With errors and not `skip_invalid`, nothing is written
    and the report says why (`imported` False; a dry run still counts what the valid
    lines would do); a file-level error (line 0) is never skipped."""
    report = ImportReport(
        dry_run=dry_run,
        rows=parsed.rows,
        leads=len(parsed.leads),
        duplicates=parsed.duplicates,
        errors=list(parsed.errors),
        merged=[{"line": lead.line, "merged_lines": lead.merged_lines} for lead in parsed.leads
                if lead.merged_lines],
    )  # fmt: skip
    fatal = any(error.line == 0 for error in parsed.errors)
    blocked = bool(parsed.errors) and not skip_invalid
    if fatal or (blocked and not dry_run):
        return report
    if skip_invalid:
        report.skipped_invalid = len({error.line for error in parsed.errors})
    # A dry run of a file in error still says what its valid lines would do.
    with transaction.atomic():
        locked = _locked_open(campaign)
        _enroll_leads(locked, parsed.leads, report, progress)
        transaction.set_rollback(dry_run)  # a dry run leaves nothing behind
    report.imported = not dry_run
    return report


def enrollments_add_contacts(
    *, campaign: Campaign, contact_ids: list[int], dry_run: bool = False
) -> ImportReport:
    """Enroll existing contacts of the campaign's organization. An id that is not one
    of them is a VALIDATION_ERROR on `contacts` (nothing enrolled)."""
    report = ImportReport(dry_run=dry_run, rows=len(contact_ids))
    wanted = list(dict.fromkeys(contact_ids))
    report.duplicates = len(contact_ids) - len(wanted)
    with transaction.atomic():
        locked = _locked_open(campaign)
        contacts = list(
            Contact.objects.filter(organization_id=locked.organization_id, pk__in=wanted)
        )
        missing = set(wanted) - {contact.pk for contact in contacts}
        if missing:
            shown = ", ".join(str(pk) for pk in sorted(missing)[:20])
            raise field_error("contacts", f"Not contacts of this organization: {shown}.")
        report.leads = report.contacts_found = len(contacts)
        by_id = {contact.pk: contact for contact in contacts}
        pairs = [(by_id[pk], _contact_fields(by_id[pk]), position)
                 for position, pk in enumerate(wanted, start=1)]  # fmt: skip
        _enroll(locked, pairs, report)
        transaction.set_rollback(dry_run)  # a dry run leaves nothing behind
    report.imported = not dry_run
    return report


def _locked_open(campaign: Campaign) -> Campaign:
    locked = (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=campaign.pk)
    )
    if locked.status not in OPEN_STATUSES:
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            f"A {locked.get_status_display().lower()} campaign takes no new leads.",
            {"campaign": [{"message": "The campaign is finished.", "code": "finished"}]},
        )
    return locked


def _enroll_leads(
    campaign: Campaign, leads: list[Lead], report: ImportReport, progress: Progress | None
) -> None:
    needs = campaign_needs(campaign)
    total = len(leads)
    for start in range(0, total, BATCH):
        batch = leads[start : start + BATCH]
        contacts = _contacts(campaign, batch, needs, report)
        pairs = [
            (contact, _lead_fields(lead), lead.line)
            for contact, lead in zip(contacts, batch, strict=True)
        ]
        _enroll(campaign, pairs, report)
        if progress:
            progress(min(start + BATCH, total), total)


def _lead_fields(lead: Lead) -> dict:
    fields = dict(lead.fields)
    if lead.phone:
        fields["phone"] = lead.phone
    if lead.linkedin:
        fields["linkedin"] = lead.linkedin
    return fields


def _contact_fields(contact: Contact) -> dict:
    """What an existing contact brings to personalization: its name and number."""
    fields: dict[str, str] = {}
    if contact.name:
        fields["name"] = contact.name
        first, _, rest = contact.name.partition(" ")
        fields["first_name"] = first
        if rest.strip():
            fields["last_name"] = rest.strip()
    if contact.phone:
        fields["phone"] = contact.phone
    return fields


def _contacts(campaign: Campaign, leads: list[Lead], needs: Needs, report) -> list[Contact]:
    channel = campaign.channel
    by_profile = _contacts_by_profile(campaign, leads) if needs == Needs.LINKEDIN else {}
    resolvable = [lead for lead in leads if _ref(lead, needs) and lead.linkedin not in by_profile]
    existed = _existing_ids(resolvable, channel, needs) | {c.pk for c in by_profile.values()}
    resolved = iter(contacts_resolve(refs=[(channel, _ref(lead, needs)) for lead in resolvable]))
    contacts = []
    for lead in leads:
        if lead.linkedin and lead.linkedin in by_profile:
            contacts.append(by_profile[lead.linkedin])
        elif _ref(lead, needs):
            contacts.append(next(resolved))
        else:  # a public LinkedIn profile seen nowhere before: a new contact
            contact = Contact.objects.create(organization_id=campaign.organization_id)
            by_profile[lead.linkedin] = contact
            contacts.append(contact)
    distinct = {contact.pk for contact in contacts}
    report.contacts_created += len(distinct - existed)
    report.contacts_found += len(distinct & existed)
    _fill_names(contacts, leads)
    return contacts


def _ref(lead: Lead, needs: Needs) -> ContactRef | None:
    """How conversations names the lead on the channel; None for a LinkedIn profile
    known only by its public URL (its member id comes when it is resolved)."""
    if needs == Needs.PHONE:
        return ContactRef(phone=lead.phone)
    if lead.linkedin.startswith("ACo"):
        return ContactRef(provider_id=lead.linkedin, phone=lead.phone)
    return None


def _existing_ids(leads: list[Lead], channel, needs: Needs) -> set[int]:
    """Contacts that exist before the import, among those the leads may name."""
    if not leads:
        return set()
    values = {lead.phone if needs == Needs.PHONE else lead.linkedin for lead in leads}
    phones = {lead.phone for lead in leads if lead.phone}
    by_identity = ContactIdentity.objects.filter(channel=channel, value__in=values).values_list(
        "contact_id", flat=True
    )
    by_phone = Contact.objects.filter(
        organization_id=channel.organization_id, phone__in=phones
    ).values_list("pk", flat=True)
    return set(by_identity) | set(by_phone)


def _contacts_by_profile(campaign: Campaign, leads: list[Lead]) -> dict[str, Contact]:
    profiles = {lead.linkedin for lead in leads if lead.linkedin}
    found = (
        Enrollment.objects.filter(
            campaign__organization_id=campaign.organization_id, fields__linkedin__in=profiles
        )
        .select_related("contact")
        .order_by("pk")
    )
    by_profile: dict[str, Contact] = {}
    for enrollment in found:
        by_profile.setdefault(enrollment.fields["linkedin"], enrollment.contact)
    return by_profile


def _fill_names(contacts: list[Contact], leads: list[Lead]) -> None:
    """A lead's name goes to a contact that has none; a name already there (the
    provider's profile name, an agent's edit) is kept."""
    changed = {}
    for contact, lead in zip(contacts, leads, strict=True):
        if lead.name and not contact.name:
            contact.name = lead.name[:200]
            changed[contact.pk] = contact
    if changed:
        rows_update([changed[pk] for pk in sorted(changed)], ["name"])


def _enroll(campaign: Campaign, pairs: list[tuple[Contact, dict, int]], report) -> None:
    """Enrollments for (contact, fields, line) not enrolled yet; the rest are counted."""
    enrolled = set(
        Enrollment.objects.filter(
            campaign=campaign, contact_id__in={contact.pk for contact, _, _ in pairs}
        ).values_list("contact_id", flat=True)
    )
    new, seen = [], set()
    for contact, fields, line in pairs:
        if contact.pk in enrolled or contact.pk in seen:
            report.already_enrolled += 1
            report.already_enrolled_lines.append(line)
            continue
        seen.add(contact.pk)
        new.append(Enrollment(campaign=campaign, contact=contact, fields=fields))
    Enrollment.objects.bulk_create(new)  # the campaign's lock: nobody else enrolls here now
    report.enrolled += len(new)
