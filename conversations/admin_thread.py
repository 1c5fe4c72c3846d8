"""The conversation page as a workspace: the thread (messages and internal notes, a
page at a time, oldest to newest) and the team's controls (assign, status, read,
notes).

The page itself stays a read-only view (a form save would write the whole row over
what a webhook changed in between); each control posts to its own small URL, which
calls a service under the conversation's row lock and comes back to the page.
Viewers get the thread without the controls; agents and admins get both, only in
their own organizations (the same scoped queryset and role as the rest of the admin).
"""

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from conversations import services
from conversations.bots import bot_handling
from conversations.message_admin import call_media_links, reactions_line
from conversations.models import Conversation, ConversationNote, ConversationStatus, Message
from conversations.thread import Cursor, thread_page
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.errors import ApplicationError, ErrorCode

TIME = "%d %b %H:%M"
TICKS = {
    "queued": ("…", "queued: waiting for the provider"),
    "sent": ("✓", "sent"),
    "delivered": ("✓✓", "delivered"),
    "read": ("✓✓", "read"),
    "failed": ("⚠", "failed"),
}


def span(seconds: int) -> str:
    """Like "2 days", "3 h 12 min" or "42 min": short enough for a list column."""
    days, minutes = divmod(seconds // 60, 24 * 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under 1 min"


@dataclass
class Entry:
    """One line of the thread, as the template draws it."""

    kind: str  # "in", "out" or "note"
    sender: str
    at: datetime
    body: str
    ticks: str = ""
    footer: str = ""
    message: Message | None = None


def message_entry(message: Message, contact_name: str, channel_name: str) -> Entry:
    inbound = message.direction == "inbound"
    return Entry(
        kind="in" if inbound else "out",
        sender=contact_name if inbound else _business_sender(message, channel_name),
        at=message.occurred_at,
        body=_body(message),
        ticks="" if inbound else _ticks(message),
        footer=_footer(message),
        message=message,
    )


def _business_sender(message: Message, channel_name: str) -> str:
    """ "ana · Acme WhatsApp" for what an agent wrote here; the channel alone for what
    was sent by the API, a campaign or the phone's own app."""
    author = (message.payload or {}).get("sent_by") or {}
    return f"{author['name']} · {channel_name}" if author.get("name") else channel_name


def note_entry(note: ConversationNote) -> Entry:
    author = note.author.get_username() if note.author else "a former member"
    return Entry(kind="note", sender=f"Note by {author}", at=note.created_at, body=note.text)


def _body(message: Message) -> str:
    text = message.text or ("" if message.media else f"({message.type})")
    if message.deleted_at is not None:
        return format_html("<del>{}</del> <em class='sb-mark'>deleted by its sender</em>", text)
    return format_html("{}{}{}", text, _media(message), call_media_links(message))


def _media(message: Message) -> str:
    media = message.media or {}
    if not media:
        return ""
    # Words, not emoji: a browser without an emoji font draws those as empty boxes.
    name = media.get("filename") or message.type.capitalize()
    label = format_html("[{}] <small>{}</small>", name, media.get("mime_type", ""))
    if media.get("url"):
        label = format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', media["url"], label
        )
    return format_html('<div class="sb-media">{}</div>', label)


def _ticks(message: Message) -> str:
    symbol, meaning = TICKS.get(message.status, ("", message.status))
    times = [
        f"{label} {timezone.localtime(at).strftime(TIME)}"
        for label, at in [
            ("sent", message.sent_at),
            ("delivered", message.delivered_at),
            ("read", message.read_at),
            ("failed", message.failed_at),
        ]
        if at is not None
    ]
    ticks = format_html(
        '<span class="sb-ticks sb-{}" title="{}">{} {}</span>',
        message.status,
        " · ".join(times) or meaning,
        symbol,
        message.status,
    )
    if message.status != "failed":
        return ticks
    reason = " ".join(part for part in (message.error_code, message.error_title) if part)
    return format_html('{} <span class="sb-error">{}</span>', ticks, reason or "no reason given")


def _footer(message: Message) -> str:
    marks = []
    if message.edited_at is not None and message.deleted_at is None:
        marks.append(mark_safe("<em class='sb-mark'>edited</em>"))
    reactions = getattr(message, "current_reactions", [])
    if reactions:
        marks.append(format_html("<span class='sb-reactions'>{}</span>", reactions_line(reactions)))
    return format_html_join(" ", "{}", ((mark,) for mark in marks))


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ConversationStatus.choices)
    until = forms.DateTimeField(
        required=False,
        label="Snooze until",
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="For Snoozed only (UTC): it reopens then.",
    )


class ConversationWorkspace:
    """Mixed into the conversation's ModelAdmin, before OrganizationScopedAdmin."""

    change_form_template = "admin/conversations/conversation/change_form.html"

    def may_work(self, request, conversation: Conversation) -> bool:
        """Agents and admins of its organization (the list's "change" role)."""
        return OrganizationScopedAdmin.has_change_permission(self, request, conversation)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        work = self.admin_site.admin_view(self.work_view)
        return [
            path("<path:object_id>/work/", work, name=f"{prefix}_work"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conversation = self.get_object(request, object_id)
        context = {**(extra_context or {}), **self.thread_context(request, conversation)}
        return super().change_view(request, object_id, form_url, context)

    def thread_context(self, request, conversation: Conversation | None) -> dict:
        if conversation is None:
            return {}
        page = thread_page(
            conversation=conversation,
            before=Cursor.parse(request.GET.get("before")),
            after=Cursor.parse(request.GET.get("after")),
        )
        contact, channel = str(conversation.contact), conversation.channel.name
        entries = [
            message_entry(entry, contact, channel)
            if isinstance(entry, Message)
            else note_entry(entry)
            for entry in page.entries
        ]
        can_work = self.may_work(request, conversation)
        context = {
            "thread": page,
            "entries": entries,
            "can_work": can_work,
            "window_badge": self.window(conversation),  # ConversationAdmin's list column
            "bot_handling": bot_handling(conversation),
        }
        if can_work:
            context["members"] = _members(conversation)
            context["status_form"] = StatusForm(
                initial={"status": conversation.status, "until": conversation.snoozed_until}
            )
        return context

    def workable(self, request, object_id) -> Conversation:
        """The conversation a control posts to, if this person may work it."""
        conversation = self.get_object(request, object_id)  # another organization's: 404
        if conversation is None:
            raise Http404  # a superuser's unknown id
        if not self.may_work(request, conversation):
            raise PermissionDenied
        return conversation

    @method_decorator(require_POST)
    def work_view(self, request, object_id):
        conversation = self.workable(request, object_id)
        action = WORK.get(request.POST.get("do", ""))
        if action is None:
            self.message_user(request, "Nothing to do.", messages.WARNING)
        else:
            try:
                done = action(request, conversation)
            except ApplicationError as error:
                self.message_user(request, refusal(error), messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
        return back_to(conversation)


def back_to(conversation: Conversation) -> HttpResponseRedirect:
    """The page from its top: what was done is said there, above the thread (which
    opens scrolled to its newest line)."""
    return HttpResponseRedirect(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    )


def refusal(error: ApplicationError, outcome: str = "Not done.") -> str:
    """What the API answers, as one line: its code and message (a field error's
    message names the field)."""
    return f"{outcome} {error.code.value}: {error.message}"


def _members(conversation: Conversation) -> list:
    return list(
        get_user_model()
        .objects.filter(is_active=True, memberships__organization_id=conversation.organization_id)
        .order_by("username")
        .distinct()
    )


def _assign(request, conversation: Conversation) -> str:
    raw = request.POST.get("assignee", "")
    if raw == "me":
        assignee_id = request.user.pk
    elif raw.isdigit() and len(raw) < 19:  # a bigint; anything else is "no one"
        assignee_id = int(raw)
    else:
        assignee_id = None
    updated = services.conversation_assign(conversation=conversation, assignee_id=assignee_id)
    return f"Assigned to {updated.assignee.get_username()}." if updated.assignee else "Unassigned."


def _status(request, conversation: Conversation) -> str:
    form = StatusForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        raise ApplicationError(ErrorCode.VALIDATION_ERROR, problems)
    status = form.cleaned_data["status"]
    # The field shows the current snooze; it only counts when snoozing.
    until = form.cleaned_data["until"] if status == ConversationStatus.SNOOZED else None
    if until is not None and timezone.is_naive(until):
        until = timezone.make_aware(until)
    updated = services.conversation_status_set(
        conversation=conversation, status=status, until=until
    )
    if updated.snoozed_until:
        return f"Snoozed until {timezone.localtime(updated.snoozed_until):%d %b %Y %H:%M}."
    return f"Status: {updated.get_status_display()}."


def _read(request, conversation: Conversation) -> str:
    services.conversation_mark_read(conversation=conversation)
    return "Marked read."


def _unread(request, conversation: Conversation) -> str:
    services.conversation_mark_unread(conversation=conversation)
    return "Marked unread."


def _hand_off(request, conversation: Conversation) -> str:
    services.conversation_hand_off(conversation=conversation, by_user_id=request.user.pk)
    return "You have taken over: the bot no longer answers this conversation."


def _bot_resume(request, conversation: Conversation) -> str:
    services.conversation_bot_resume(conversation=conversation)
    return "Given back to the bot: it answers the customer's next messages."


def _note(request, conversation: Conversation) -> str:
    services.conversation_note_add(
        conversation=conversation, author=request.user, text=request.POST.get("text", "")
    )
    return "Note added (the customer does not see it)."


WORK = {
    "assign": _assign,
    "status": _status,
    "read": _read,
    "unread": _unread,
    "note": _note,
    "hand_off": _hand_off,
    "bot_resume": _bot_resume,
}
