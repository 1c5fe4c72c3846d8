"""Every admin page shows a member only their own organizations.

The walk below covers every registered ModelAdmin, so an admin added later is checked
without anyone remembering to: it must be scoped (and given an object in `_world`) or
be for superusers only.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db.models import Model
from django.urls import reverse

from campaigns.models import Campaign, Enrollment, EnrollmentStep, Step, StepKind, StepOutcome
from conversations.consent_models import (
    AutoReply,
    Consent,
    ConsentChange,
    ConsentKeyword,
    KeywordReplyTexts,
)
from conversations.models import (
    ContactErasure,
    Conversation,
    ConversationNote,
    ConversationStatus,
    MessageReaction,
    PendingMessageChange,
)
from integrations.models import Burst, Delivery, ReplyNotification, Subscription
from messaging.models import (
    DoNotContact,
    DoNotContactSource,
    IdempotencyKey,
    Invitation,
    Relation,
    SendLimit,
)
from reconciliation.models import (
    HealthCheckResult,
    HealthCheckSetting,
    ReconciliationRun,
    RunTrigger,
    WebhookHealthCheck,
)
from reports.alert_models import AlertIncident, AlertKind, ChannelQuietPeriod
from reports.digest_models import DigestRecipient, DigestSchedule, DigestSend
from templates.models import EventKind, EventSource, TemplateEvent
from tenants.admin_scope import OrganizationScopedAdmin, SuperuserOnlyAdmin
from tenants.models import Role
from tests.factories import (
    ChannelFactory,
    ContactIdentityFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    MessageTemplateFactory,
    OrganizationFactory,
    UserFactory,
)
from webhooks.models import EventStatus, FailedWebhook, WebhookEvent

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _world(tag: str) -> dict[type[Model], Model]:
    """One object of every model our admin shows, in a new organization named `tag`."""
    organization = OrganizationFactory(name=f"{tag} Inc", slug=tag.lower())
    channel = ChannelFactory(organization=organization, name=f"{tag} line")
    conversation = ConversationFactory(
        organization=organization, channel=channel, contact__name=f"{tag} customer"
    )
    ContactIdentityFactory(contact=conversation.contact, channel=channel)
    template = MessageTemplateFactory(channel=channel, name=f"{tag.lower()}_template")
    webhook = {"provider": channel.provider, "channel": channel, "organization": organization}
    webhook["received_at"] = NOW
    message = MessageFactory(conversation=conversation, text=f"{tag}")
    contact = conversation.contact
    consent = {"organization": organization, "contact": contact, "kind": "sms"}
    campaign = Campaign.objects.create(
        organization=organization, channel=channel, name=f"{tag} campaign"
    )
    Step.objects.create(campaign=campaign, position=1, kind=StepKind.TEXT, text=f"Hi from {tag}")
    enrollment = Enrollment.objects.create(campaign=campaign, contact=conversation.contact)
    EnrollmentStep.objects.create(
        enrollment=enrollment, position=1, at=NOW, outcome=StepOutcome.DEFERRED, detail=tag
    )
    subscription = Subscription.objects.create(
        organization=organization,
        name=f"{tag} CRM",
        url=f"https://{tag.lower()}.example.com/hook",
        event_types=["message.received"],
        secret="whsec_" + "A" * 32,
    )
    return {
        type(organization): organization,
        type(channel): channel,
        type(conversation.contact): conversation.contact,
        Conversation: conversation,
        type(MessageFactory.build()): message,
        Consent: Consent.objects.create(
            **consent, scope="service", state="opted_out", source="keyword"
        ),
        ConsentChange: ConsentChange.objects.create(
            **consent,
            scope="service",
            state="opted_out",
            previous_state="unknown",
            source="keyword",
            label=f"{tag} STOP",
        ),
        ConsentKeyword: ConsentKeyword.objects.create(
            organization=organization, keyword=f"{tag.upper()}STOP", keyword_class="opt_out"
        ),
        KeywordReplyTexts: KeywordReplyTexts.objects.create(organization=organization),
        AutoReply: AutoReply.objects.create(
            organization=organization,
            channel=channel,
            conversation=conversation,
            keyword_message=message,
            keyword_class="opt_out",
            text=f"{tag} unsubscribed",
        ),
        type(template): template,
        TemplateEvent: TemplateEvent.objects.create(
            template=template, kind=EventKind.CREATED, source=EventSource.SYNC, occurred_at=NOW
        ),
        ConversationNote: ConversationNote.objects.create(
            organization=organization, conversation=conversation, text=f"{tag} note"
        ),
        MessageReaction: MessageReaction.objects.create(
            organization=organization,
            channel=channel,
            conversation=conversation,
            message_provider_id=f"wamid.{tag}",
            reactor=f"{tag}-reactor",
            direction="inbound",
            emoji="👍",
            reacted_at=NOW,
            event_id=f"{tag}-reaction",
        ),
        PendingMessageChange: PendingMessageChange.objects.create(
            channel=channel,
            provider_message_id=f"wamid.{tag}.later",
            event_id=f"{tag}-edit",
            kind="edited",
            text=f"{tag} edited",
            occurred_at=NOW,
        ),
        ContactErasure: ContactErasure.objects.create(
            organization=organization,
            contact=conversation.contact,
            identifier_kind="phone",
            identifier_hash=f"{tag.lower():0>64}",
            source="admin",
        ),
        SendLimit: SendLimit.objects.create(channel=channel, per_second=5),
        Invitation: Invitation.objects.create(
            organization=organization,
            channel=channel,
            contact=conversation.contact,
            public_identifier=f"{tag.lower()}-lead",
        ),
        Relation: Relation.objects.create(
            organization=organization,
            channel=channel,
            public_identifier=f"{tag.lower()}-lead",
            name=f"{tag} relation",
            connected_at=NOW,
            source="webhook",
        ),
        IdempotencyKey: IdempotencyKey.objects.create(
            organization=organization,
            key=f"{tag}-key",
            fingerprint="f",
            response_status=201,
            response_body={},
        ),
        WebhookEvent: WebhookEvent.objects.create(
            **webhook, body=b"{}", dedupe_key=f"{tag}-1", status=EventStatus.PROCESSED
        ),
        FailedWebhook: FailedWebhook.objects.create(
            **webhook, body=b"{}", dedupe_key=f"{tag}-2", status=EventStatus.DEAD
        ),
        DoNotContact: DoNotContact.objects.create(
            organization=organization,
            kind="phone",
            value=conversation.contact.phone,
            note=f"{tag} asked",
            source=DoNotContactSource.ADMIN,
        ),
        HealthCheckSetting: HealthCheckSetting.objects.create(channel=channel),
        WebhookHealthCheck: WebhookHealthCheck.objects.create(
            organization=organization,
            channel=channel,
            sent_at=NOW,
            result=HealthCheckResult.CONFIRMED,
        ),
        Campaign: campaign,
        Enrollment: enrollment,
        ReplyNotification: ReplyNotification.objects.create(
            organization=organization,
            conversation=conversation,
            message_ids=[message.pk],
            pending_count=1,
            due_at=NOW,
            last_recipients=f"{tag.lower()}@example.com",
        ),
        Subscription: subscription,
        Delivery: Delivery.objects.create(
            organization=organization,
            subscription=subscription,
            event_type="message.received",
            webhook_id=f"msg_{tag}",
            payload="{}",
        ),
        Burst: Burst.objects.create(
            organization=organization,
            subscription=subscription,
            conversation=conversation,
            channel_id=channel.pk,
            message_ids=[message.pk],
            first_at=NOW,
            last_at=NOW,
            due_at=NOW,
        ),
        ReconciliationRun: ReconciliationRun.objects.create(
            organization=organization,
            channel=channel,
            window_start=NOW - timedelta(days=2),
            window_end=NOW,
            trigger=RunTrigger.SCHEDULE,
        ),
        DigestSchedule: DigestSchedule.objects.create(organization=organization),
        DigestRecipient: DigestRecipient.objects.create(
            organization=organization, email=f"{tag.lower()}-team@example.com"
        ),
        DigestSend: DigestSend.objects.create(
            organization=organization, week_start=NOW.date(), figures={}
        ),
        AlertIncident: AlertIncident.objects.create(
            kind=AlertKind.CHANNEL_QUIET,
            key=str(channel.pk),
            summary=f"No webhook from {tag} line for over 30 min",
            organization=organization,
            channel=channel,
        ),
        ChannelQuietPeriod: ChannelQuietPeriod.objects.create(
            channel=channel, quiet_seconds=1800, webhooks=500, usual=True, computed_at=NOW
        ),
    }


@pytest.fixture
def theirs():
    return _world("Alpha")


@pytest.fixture
def mine():
    return _world("Bravo")


@pytest.fixture
def outsider(client, mine):
    """An admin of Bravo who was also given every Django permission there is: the
    worst case of a support person handed too much."""
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=mine[Conversation].organization, role=Role.ADMIN)
    user.user_permissions.set(Permission.objects.all())
    client.force_login(user)
    return client


def _url(obj: Model, view: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def _registered() -> list:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_admin_is_scoped_or_for_superusers_only(theirs):
    for model, model_admin in _registered():
        if isinstance(model_admin, OrganizationScopedAdmin):
            assert model in theirs, f"add a {model.__name__} to _world so it is walked"
        else:
            assert isinstance(model_admin, SuperuserOnlyAdmin), model


@pytest.mark.parametrize(
    "model", [model for model, _ in _registered()], ids=lambda model: model._meta.label
)
def test_no_page_shows_another_organizations_objects(outsider, theirs, mine, model):
    model_admin = admin.site._registry[model]
    meta = model._meta
    listing = outsider.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))

    if isinstance(model_admin, SuperuserOnlyAdmin):
        assert listing.status_code == 403
        return
    page = listing.content.decode()
    assert listing.status_code == 200
    assert _url(mine[model], "change") in page  # the list works, and shows their own
    assert _url(theirs[model], "change") not in page
    assert "Alpha" not in page  # nor a name of theirs, in a filter or anywhere
    for view in ("change", "history", "delete"):
        assert outsider.get(_url(theirs[model], view)).status_code in (403, 404), view


def test_superuser_only_pages_refuse_even_with_every_permission(outsider):
    index = outsider.get(reverse("admin:index")).content.decode()

    for model, model_admin in _registered():
        if isinstance(model_admin, SuperuserOnlyAdmin):
            assert f'href="/admin/{model._meta.app_label}/{model._meta.model_name}/"' not in index


def test_a_list_action_leaves_another_organizations_conversation_alone(outsider, theirs):
    conversation = theirs[Conversation]

    outsider.post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "close", "_selected_action": [conversation.pk]},
    )

    conversation.refresh_from_db()
    assert conversation.status != ConversationStatus.CLOSED


def test_an_agent_here_and_viewer_there_changes_only_here(client, theirs, mine):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=mine[Conversation].organization, role=Role.AGENT)
    MembershipFactory(user=user, organization=theirs[Conversation].organization, role=Role.VIEWER)
    client.force_login(user)

    client.post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "close", "_selected_action": [theirs[Conversation].pk, mine[Conversation].pk]},
    )

    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses[mine[Conversation].pk] == ConversationStatus.CLOSED
    assert statuses[theirs[Conversation].pk] != ConversationStatus.CLOSED


def test_foreign_key_choices_are_their_own(outsider, theirs, mine):
    page = outsider.get(reverse("admin:messaging_sendlimit_add")).content.decode()

    assert f'value="{mine[SendLimit].channel_id}"' in page
    assert f'value="{theirs[SendLimit].channel_id}"' not in page


def test_autocompletes_offer_their_own_only(outsider, theirs, mine):
    for model, model_admin in _registered():
        for field_name in model_admin.get_autocomplete_fields(None):
            response = outsider.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field_name,
                },
            )
            assert "Alpha" not in response.content.decode(), (model, field_name)


def test_the_dashboard_shows_their_organizations_only(outsider, theirs, mine):
    page = outsider.get(reverse("admin:index")).content.decode()

    assert "Operations dashboard" in page
    assert "Your organizations, as of" in page  # not "All organizations": it is scoped
    assert "Bravo line" in page
    assert "Alpha" not in page


# Roles carry into the admin without any Django permission handed out


def _member(client, organization, role: Role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    return client


def test_a_viewer_reads_but_changes_nothing(client, mine):
    viewer = _member(client, mine[Conversation].organization, Role.VIEWER)
    conversation = mine[Conversation]

    assert viewer.get(_url(conversation, "change")).status_code == 200
    viewer.post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "close", "_selected_action": [conversation.pk]},
    )

    conversation.refresh_from_db()
    assert conversation.status != ConversationStatus.CLOSED
    assert viewer.get(reverse("admin:tenants_channel_add")).status_code == 403


def test_an_agent_works_conversations_but_not_channels(client, mine):
    agent = _member(client, mine[Conversation].organization, Role.AGENT)
    conversation = mine[Conversation]

    agent.post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "close", "_selected_action": [conversation.pk]},
    )

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.CLOSED
    assert agent.get(reverse("admin:tenants_channel_add")).status_code == 403


def test_an_admin_manages_channels_and_nothing_of_the_platform(client, mine):
    member = _member(client, mine[Conversation].organization, Role.ADMIN)

    assert member.get(reverse("admin:tenants_channel_add")).status_code == 200
    assert (
        member.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 403
    )
    assert member.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_the_index_lists_the_work_first_and_the_platform_last(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:index")).content.decode()

    def place(path: str) -> int:
        return page.index(f'href="/admin/{path}/"')

    work = [
        place("conversations/conversation"),
        place("webhooks/failedwebhook"),
        place("templates/messagetemplate"),
        place("reconciliation/reconciliationrun"),
        place("tenants/channel"),
    ]
    assert work == sorted(work)
    assert place("django_celery_beat/periodictask") > work[-1]
    assert place("django_celery_results/taskresult") > work[-1]
    assert place("authtoken/tokenproxy") > work[-1]


def test_the_verify_token_is_for_the_channel_s_admins_only(client, mine):
    channel = mine[type(mine[Conversation].channel)]
    viewer = _member(client, channel.organization, Role.VIEWER)

    page = viewer.get(_url(channel, "change")).content.decode()

    assert channel.webhook_url in page
    assert channel.verify_token not in page
    admin_member = _member(client, channel.organization, Role.ADMIN)
    assert channel.verify_token in admin_member.get(_url(channel, "change")).content.decode()
