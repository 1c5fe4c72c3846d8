"""Sending from the admin: a template to a conversation, channels' send limits (with
today's usage, messaging.admin_invitations), LinkedIn invitations and relations, and
the answers kept for idempotent API requests (read-only)."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

import messaging.admin_do_not_contact  # noqa: F401 - registers the do-not-contact list
from conversations.admin import ConversationAdmin
from conversations.models import Conversation
from conversations.window import window_status
from messaging import (
    admin_invitations,  # noqa: F401 - registers its admins
    services,
)
from messaging.admin_composer import ComposerAdmin
from messaging.checks import APPROVED
from messaging.models import IdempotencyKey
from messaging.refusals import refusal_kept
from templates.models import MessageTemplate
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.errors import ApplicationError
from tenants.models import Role


class SendTemplateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none())
    parameters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        required=False,
        initial="{}",
        help_text='JSON per part, e.g. {"body": {"day": "Saturday"}} or {"body": ["4"]}.',
    )

    def __init__(self, *args, conversation: Conversation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(
            channel_id=conversation.channel_id, status=APPROVED, is_deleted=False
        ).order_by("name", "language")

    def clean_parameters(self) -> dict:
        try:
            parameters = json.loads(self.cleaned_data["parameters"] or "{}")
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from exc
        if not isinstance(parameters, dict):
            raise forms.ValidationError("A JSON object, keyed by part (header, body...).")
        return parameters


admin.site.unregister(Conversation)


@admin.register(Conversation)
class SendingConversationAdmin(ComposerAdmin, ConversationAdmin):
    """The inbox's conversation admin, with sending added by the messaging app: the
    composer on its page (messaging.admin_composer) and a list action."""

    actions = [*ConversationAdmin.actions, "send_template"]

    @admin.action(description="Send a template…", permissions=["change"])
    def send_template(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose one conversation.", messages.WARNING)
            return None
        conversation = queryset.select_related("channel", "contact").get()
        form = SendTemplateForm(
            request.POST if "apply" in request.POST else None, conversation=conversation
        )
        if form.is_bound and form.is_valid():
            self._send(request, conversation, form.cleaned_data)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Send a template",
            "conversation": conversation,
            "window": window_status(conversation),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/messaging/send_template.html", context)

    def _send(self, request, conversation: Conversation, data: dict) -> None:
        template = data["template"]
        try:
            message = services.message_send_template(
                conversation=conversation,
                name=template.name,
                language=template.language,
                parameters=data["parameters"],
            )
        except ApplicationError as error:
            refusal_kept(error)
            self.message_user(request, f"Not sent ({error.code}): {error.message}", messages.ERROR)
            return
        self.message_user(
            request, f"Template {template.name} queued for sending (message {message.pk})."
        )


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """What a repeated API request will be answered: history, never edited."""

    member_roles = {"view": Role.ADMIN}
    list_display = ["key", "organization", "response_status", "message_id", "created_at"]
    list_filter = ["organization"]
    search_fields = ["key"]
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
