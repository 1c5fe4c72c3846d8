"""The inbox's query parameters: parsed, validated and documented by django-filter.

These FilterSets do not filter querysets themselves: the views validate the parameters
with them and hand the cleaned values to the selectors, where the rules live. An
invalid value is a 400 VALIDATION_ERROR with details on the parameter.
"""

from enum import StrEnum

from django import forms
from django.http import QueryDict
from django_filters import rest_framework as filters
from django_filters.utils import translate_validation

from conversations.models import Contact, Conversation, ConversationStatus, Message
from conversations.selectors import WindowFilter
from tenants.api.fields import IdFilter, MomentFilter

SEARCH_HELP = "Contact name, phone number (punctuation ignored) or provider id (wa_id, ...)."
CONVERSATION_SEARCH_HELP = (
    f"{SEARCH_HELP.removesuffix('.')}, or words said in the conversation: a conversation "
    "is listed once when any of its messages holds every word (accents and case ignored; "
    "the last word, of three letters or more, also finds the words it starts: "
    "`parcel deliv` finds `delivery of the parcel`)."
)


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error, not silently "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        parsed = {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())
        if parsed is None:
            raise forms.ValidationError("Must be true or false.", code="invalid")
        return parsed


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)  # the default widget maps junk to None
        super().__init__(*args, **kwargs)


class ConversationFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ConversationStatus.choices)
    channel = IdFilter(help_text="Channel id.")
    assignee = IdFilter(help_text="Assigned user's id.")
    unassigned = BooleanFilter(help_text="true: nobody is assigned; false: someone is.")
    window = filters.ChoiceFilter(
        choices=[(w.value, w.value) for w in WindowFilter],
        help_text="open: free-form messages may be sent now (window open, or a channel "
        "without a window); expired: they may not (the window closed or never opened), "
        "only templates. Decided from the clock, not the stored flag.",
    )
    unread = BooleanFilter(help_text="true: unread_count > 0; false: all read.")
    updated_since = MomentFilter(help_text="Changed at or after (ISO 8601).")
    q = filters.CharFilter(help_text=CONVERSATION_SEARCH_HELP)

    class Meta:
        model = Conversation
        fields = []

    def selector_arguments(self) -> dict:
        data = self.form.cleaned_data
        return {
            "status": data["status"] or None,
            "channel_id": data["channel"],
            "assignee_id": data["assignee"],
            "unassigned": data["unassigned"],
            "window": WindowFilter(data["window"]) if data["window"] else None,
            "unread": data["unread"],
            "updated_since": data["updated_since"],
            "search": data["q"] or "",
        }


class MessageOrder(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"


class MessageFilter(filters.FilterSet):
    order = filters.ChoiceFilter(
        choices=[(order.value, order.value) for order in MessageOrder],
        help_text="newest (default): latest written first; oldest: in the order they were "
        "written (the provider's time, not the order the webhooks arrived in).",
    )

    class Meta:
        model = Message
        fields = []

    def selector_arguments(self) -> dict:
        return {"order": MessageOrder(self.form.cleaned_data["order"] or MessageOrder.NEWEST)}


class ContactFilter(filters.FilterSet):
    q = filters.CharFilter(help_text=SEARCH_HELP)

    class Meta:
        model = Contact
        fields = []

    def selector_arguments(self) -> dict:
        return {"search": self.form.cleaned_data["q"] or ""}


def filters_validated(filterset_class: type[filters.FilterSet], params: QueryDict) -> dict:
    """The selector arguments the query parameters ask for, or a field-level 400."""
    filterset = filterset_class(params)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset.selector_arguments()
