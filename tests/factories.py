import factory
from django.contrib.auth import get_user_model

from conversations.models import (
    Contact,
    ContactIdentity,
    Conversation,
    Direction,
    IdentityKind,
    Message,
)
from providers import Provider
from templates.models import MessageTemplate
from tenants.models import Channel, Membership, Organization, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    alert_emails = "ops@example.com"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.AGENT


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    organization = factory.SubFactory(OrganizationFactory)
    provider = Provider.WHATSAPP_CLOUD
    name = factory.Sequence(lambda n: f"Channel {n}")
    display_phone_number = factory.Sequence(lambda n: f"+1555555{n:04d}")
    phone_number_id = factory.Sequence(lambda n: f"10654035224{n:04d}")
    waba_id = "102290129340398"
    access_token = "test-access-token"
    app_secret = factory.Sequence(lambda n: f"test-app-secret-{n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    phone = factory.Sequence(lambda n: f"+1650555{n:04d}")


class ContactIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactIdentity

    contact = factory.SubFactory(ContactFactory)
    channel = factory.SubFactory(
        ChannelFactory, organization=factory.SelfAttribute("..contact.organization")
    )
    kind = IdentityKind.WA_ID
    value = factory.Sequence(lambda n: f"1650555{n:04d}")


class ConversationFactory(factory.django.DjangoModelFactory):
    """A conversation whose channel and contact belong to its organization."""

    class Meta:
        model = Conversation

    organization = factory.SubFactory(OrganizationFactory)
    channel = factory.SubFactory(
        ChannelFactory, organization=factory.SelfAttribute("..organization")
    )
    contact = factory.SubFactory(
        ContactFactory, organization=factory.SelfAttribute("..organization")
    )


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    organization = factory.SelfAttribute("conversation.organization")
    channel = factory.SelfAttribute("conversation.channel")
    direction = Direction.INBOUND
    type = "text"
    text = factory.Sequence(lambda n: f"Message {n}")
    provider_message_id = factory.Sequence(lambda n: f"wamid.test{n}")
    status = "received"


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    """An approved template of a WhatsApp channel, in its channel's organization."""

    class Meta:
        model = MessageTemplate

    channel = factory.SubFactory(ChannelFactory)
    organization = factory.SelfAttribute("channel.organization")
    provider_template_id = factory.Sequence(lambda n: str(1_000_000_000_000_000 + n))
    name = factory.Sequence(lambda n: f"template_{n}")
    language = "en_US"
    category = "UTILITY"
    status = "APPROVED"
    components = factory.LazyFunction(
        lambda: [{"type": "BODY", "text": "Your order {{1}} is on its way."}]
    )
