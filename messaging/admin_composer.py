"""The composer on the conversation's page: free text while the window is open, the
channel's approved templates at any time, and "Resend" on a failed message.

Every send goes through the API's own door (`messaging.services`), inside the API's
own idempotency (`messaging.idempotency.idempotent`): the window, template, parameter
and rate checks all apply, a refusal reads as the API's code and message, and each
form carries a key made when the page was drawn, so a double click or a resubmitted
page sends once. Nothing here talks to a provider: the send task does, as for the API.
"""

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from conversations.admin_thread import back_to, refusal, span
from conversations.models import Conversation, Message
from conversations.window import window_status
from messaging import services
from messaging.checks import APPROVED
from messaging.idempotency import Answer, idempotent, request_fingerprint
from messaging.refusals import refusal_kept
from providers import Provider
from providers.whatsapp_templates import placeholders
from templates.models import MessageTemplate
from tenants.errors import ApplicationError

KEY_FIELD = "idempotency_key"
# Admin forms' keys live beside API clients' keys of the same organization; the prefix
# keeps a client's key from ever meeting one of ours.
KEY_PREFIX = "admin:"
PARAMETER_PREFIX = "p:"  # "p:body:day" is the body's {{day}}
DRAFT_SESSION_KEY = "composer-draft-{}"


@dataclass(frozen=True)
class TemplateChoice:
    template: MessageTemplate
    fields: list[tuple[str, str]]  # (input name, label)
    preview: str


def template_choices(conversation: Conversation) -> list[TemplateChoice]:
    if Provider(conversation.channel.provider) != Provider.WHATSAPP_CLOUD:
        return []  # templates are a WhatsApp thing (the send service says so too)
    templates = MessageTemplate.objects.filter(
        channel_id=conversation.channel_id, status=APPROVED, is_deleted=False
    ).order_by("name", "language")
    return [_choice(template) for template in templates]


def _choice(template: MessageTemplate) -> TemplateChoice:
    required = placeholders(template.components, template.parameter_format)
    fields = [
        (f"{PARAMETER_PREFIX}{part}:{name}", _label(part, name))
        for part, names in required.items()
        for name in names
    ]
    body = next(
        (c.get("text", "") for c in template.components if str(c.get("type")).upper() == "BODY"),
        "",
    )
    return TemplateChoice(template=template, fields=fields, preview=body)


def _label(part: str, name: str) -> str:
    """ "Body · {{day}}", "Header · image link": where the value goes, as Meta names it."""
    where = part.replace("_", " ").capitalize()
    if name.isupper():  # a media header's link, a coupon code
        what = "link" if name in ("IMAGE", "VIDEO", "DOCUMENT") else ""
        return f"{where} · {name.lower().replace('_', ' ')} {what}".rstrip()
    return f"{where} · {{{{{name}}}}}"


def parameters_from(data) -> dict:
    """{"body": {"day": "Saturday"}} from the form's "p:body:day" inputs; empty ones
    are kept, so the send service names them as the API would."""
    parameters: dict[str, dict[str, str]] = {}
    for key, value in data.items():
        if key.startswith(PARAMETER_PREFIX):
            part, _, name = key.removeprefix(PARAMETER_PREFIX).partition(":")
            parameters.setdefault(part, {})[name] = value.strip()
    return parameters


class ComposerAdmin:
    """Mixed into the conversation's ModelAdmin (before the conversations app's
    admin, whose `may_work`, `thread_context` and `get_object` it relies on)."""

    change_form_template = "admin/messaging/conversation_change_form.html"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/reply/", view(self.reply_view), name=f"{prefix}_reply"),
            path(
                "<path:object_id>/send-template/",
                view(self.template_view),
                name=f"{prefix}_send_template",
            ),
            path(
                "<path:object_id>/resend/<int:message_id>/",
                view(self.resend_view),
                name=f"{prefix}_resend",
            ),
            *super().get_urls(),
        ]

    def thread_context(self, request, conversation):
        context = super().thread_context(request, conversation)
        if context.get("can_work"):
            window = window_status(conversation)
            context["composer"] = {
                "window": window,
                "left": span(window.seconds_remaining),
                "templates": template_choices(conversation),
                "key": uuid.uuid4().hex,  # one per drawing of the page
                "draft": request.session.pop(DRAFT_SESSION_KEY.format(conversation.pk), ""),
            }
        return context

    @method_decorator(require_POST)
    def reply_view(self, request, object_id):
        conversation = self.workable(request, object_id)
        text = request.POST.get("text", "")
        sent = self._send_once(
            request,
            conversation,
            lambda: services.message_send_text(
                conversation=conversation, text=text, sent_by=request.user
            ),
        )
        if not sent:
            request.session[DRAFT_SESSION_KEY.format(conversation.pk)] = text
        return back_to(conversation)

    @method_decorator(require_POST)
    def template_view(self, request, object_id):
        conversation = self.workable(request, object_id)
        chosen = request.POST.get("template", "")
        template = (
            MessageTemplate.objects.filter(channel_id=conversation.channel_id, pk=chosen).first()
            if chosen.isdigit() and len(chosen) < 19
            else None
        )
        if template is None:
            self.message_user(
                request, "Not sent: choose one of this channel's templates.", messages.ERROR
            )
            return back_to(conversation)
        self._send_once(
            request,
            conversation,
            lambda: services.message_send_template(
                conversation=conversation,
                name=template.name,
                language=template.language,
                parameters=parameters_from(request.POST),
                sent_by=request.user,
            ),
        )
        return back_to(conversation)

    @method_decorator(require_POST)
    def resend_view(self, request, object_id, message_id):
        conversation = self.workable(request, object_id)
        failed = Message.objects.filter(conversation=conversation, pk=message_id).first()
        if failed is None:
            raise Http404
        self._send_once(
            request,
            conversation,
            lambda: services.message_resend(message=failed, sent_by=request.user),
        )
        return back_to(conversation)

    def _send_once(self, request, conversation: Conversation, send) -> bool:
        """Runs `send` once per form key; says what happened. False if refused."""
        key = request.POST.get(KEY_FIELD, "")

        def perform() -> Answer:
            message = send()
            return Answer(201, {"id": message.pk}, message_id=message.pk)

        try:
            if key:
                body = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
                answer = idempotent(
                    organization=conversation.organization,
                    key=f"{KEY_PREFIX}{key}",
                    fingerprint=request_fingerprint(method="POST", path=request.path, body=body),
                    perform=perform,
                )
            else:
                answer = perform()
        except ApplicationError as error:
            refusal_kept(error)  # counted in the transaction the refusal rolled back
            self.message_user(request, refusal(error, "Not sent."), messages.ERROR)
            return False
        if answer.replayed:
            self.message_user(
                request,
                f"Already sent as message {answer.message_id}: this form was submitted twice, "
                f"so nothing was sent again.",
                messages.WARNING,
            )
        else:
            self.message_user(
                request, f"Queued for sending (message {answer.message_id}).", messages.SUCCESS
            )
        return True
