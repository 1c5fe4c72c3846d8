from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from conversations.erasure import contact_erase, contacts_by_identifier
from conversations.models import Contact, ErasureSource
from tenants.models import Organization


class Command(BaseCommand):
    help = (
        "Forget a contact (GDPR/LGPD erasure): name, phone, identities, message contents "
        "and raw webhooks are erased; conversations stay as counts; an audit record keeps "
        "a keyed hash of the identifier. By id, or every contact of an organization with "
        "a phone number or provider id (--phone). Asking again resumes an interrupted one."
    )

    def add_arguments(self, parser):
        parser.add_argument("contact_id", nargs="?", type=int, help="The contact's id.")
        parser.add_argument("--phone", help="A phone number (any format) or provider id.")
        parser.add_argument("--organization", help="The organization's slug.")
        parser.add_argument("--requested-by", help="Username of who asked (for the record).")
        parser.add_argument("--no-input", action="store_true", help="Do not ask to confirm.")

    def handle(self, *args, contact_id=None, phone=None, organization=None, **options):
        contacts = self._contacts(contact_id, phone, organization)
        requested_by = self._user(options["requested_by"])
        listing = ", ".join(f"#{contact.pk} ({contact.organization.slug})" for contact in contacts)
        if not options["no_input"]:
            answer = input(f"Erase contact(s) {listing}? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing erased.")
        for contact in contacts:
            erasure = contact_erase(
                organization=contact.organization,
                contact_id=contact.pk,
                requested_by=requested_by,
                source=ErasureSource.COMMAND,
            )
            counts = ", ".join(f"{name} {count}" for name, count in erasure.counts.items())
            self.stdout.write(
                self.style.SUCCESS(
                    f"Contact #{contact.pk} erased (erasure #{erasure.pk}): {counts}"
                )
            )

    def _contacts(self, contact_id, phone, slug) -> list[Contact]:
        if (contact_id is None) == (phone is None):
            raise CommandError("Give a contact id or --phone, not both.")
        organization = None
        if slug:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise CommandError(f"No organization {slug!r}.")
        if phone is not None:
            if organization is None:
                raise CommandError("--phone needs --organization: numbers are per organization.")
            contacts = contacts_by_identifier(organization=organization, identifier=phone)
            if not contacts:
                raise CommandError(f"No contact of {slug} has {phone!r}.")
            return contacts
        contacts = Contact.objects.select_related("organization").filter(pk=contact_id)
        if organization is not None:
            contacts = contacts.filter(organization=organization)
        if not contacts:
            raise CommandError(f"No contact #{contact_id}" + (f" in {slug}." if slug else "."))
        return list(contacts)

    def _user(self, username):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user
