"""The channel's admin form: one provider's fields at a time.

A channel is added in two steps: choose the provider (`provider_choices`), then fill
in what that provider needs (`ChannelAdminForm` with `provider` set). Its page later
shows that provider's fields only; the provider itself is fixed once saved, as in the
API. Secrets are typed in but never rendered back: the page source holds no secret.
"""

from copy import copy

from django import forms

from providers import Provider
from tenants import services
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import (
    ACCOUNT_FIELDS,
    DEFAULT_WINDOW_POLICY,
    PROVIDER_FIELDS,
    SECRET_FIELDS,
    Channel,
    WindowPolicy,
)

# The model's labels and help texts speak of every provider at once ("Twilio
# AccountSid (AC…); Unipile account_id."); a form of one provider says it its way.
PROVIDER_TEXTS: dict[Provider, dict[str, tuple[str, str]]] = {
    Provider.WHATSAPP_CLOUD: {
        "display_phone_number": ("Phone number", "E.164, e.g. +15550783881."),
        "phone_number_id": ("Phone number id", "Meta's id of the number: routes webhooks."),
        "access_token": ("Access token", "A Meta system user's token for this WABA."),
        "app_secret": ("App secret", "The Meta app's secret: verifies webhooks."),
    },
    Provider.OPENPHONE: {
        "display_phone_number": ("Phone number", "E.164, e.g. +15550783881."),
        "phone_number_id": ("Phone number id", "OpenPhone's id of the number (PN…)."),
        "access_token": ("API key", "OpenPhone's API key: sends messages."),
        "signing_key": ("Webhook signing key", "OpenPhone's signing key: verifies webhooks."),
    },
    Provider.TWILIO: {
        "display_phone_number": ("Phone number", "E.164, e.g. +15550783881."),
        "account_id": ("Account SID", "AC… from Twilio's console."),
        "auth_token": ("Auth token", "Twilio's auth token: sends and verifies webhooks."),
    },
    Provider.UNIPILE: {
        "account_id": ("Account id", "Unipile's account_id of the connected account."),
        "access_token": ("API key", "Unipile's API key: sends messages and invitations."),
        "shared_secret": ("Webhook secret", "The value of the Unipile-Auth header."),
    },
}


def provider_fields(provider: Provider) -> tuple[list[str], list[str]]:
    """(account fields, secret fields) of `provider`, in the form's order."""
    own = PROVIDER_FIELDS[provider]
    return [f for f in ACCOUNT_FIELDS if f in own], [f for f in SECRET_FIELDS if f in own]


def provider_choices() -> list[dict]:
    """What the add page's first step offers: each provider and what it will ask for."""
    choices = []
    for provider in Provider:
        account, secrets = provider_fields(provider)
        texts = PROVIDER_TEXTS[provider]
        asked = [
            texts.get(name, (Channel._meta.get_field(name).verbose_name,))[0]
            for name in [*account, *secrets]
            if name != "window_policy"
        ]
        needs = ", ".join(str(label) for label in asked)
        choices.append({"value": provider.value, "label": provider.label, "needs": needs})
    return choices


def chosen_provider(value: str | None) -> Provider | None:
    return Provider(value) if value in Provider._value2member_map_ else None


class ChannelAdminForm(forms.ModelForm):
    """An empty secret box keeps the stored value; tick "clear" to remove one."""

    # The channel's provider: set by ChannelAdmin.get_form (from the add page's first
    # step, or the saved channel); this form shows that provider's fields only.
    provider: Provider = Provider.WHATSAPP_CLOUD

    clear_secrets = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Remove these stored secrets.",
    )
    window_policy = forms.ChoiceField(
        choices=[("", "The provider's default"), *WindowPolicy.choices], required=False
    )
    api_base_url = forms.URLField(
        label="API base URL",
        required=False,
        assume_scheme="https",
        help_text=Channel._meta.get_field("api_base_url").help_text,
    )

    class Meta:
        model = Channel
        fields = [
            "organization",
            "name",
            "is_active",
            "keyword_replies",
            *ACCOUNT_FIELDS,
            *SECRET_FIELDS,
        ]
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.provider = self.provider  # a new channel's, before validation
        account, secrets = provider_fields(self.provider)
        for name in {*ACCOUNT_FIELDS, *SECRET_FIELDS} - {*account, *secrets}:
            self.fields.pop(name, None)  # another provider's: neither shown nor saved
        for name, (label, help_text) in PROVIDER_TEXTS[self.provider].items():
            if name in self.fields:
                self.fields[name].label, self.fields[name].help_text = label, help_text
        if "keyword_replies" in self.fields:  # not for those who only read the page
            self.fields["keyword_replies"].required = False
        default = WindowPolicy(DEFAULT_WINDOW_POLICY[self.provider]).label
        self.fields["window_policy"].choices = [
            ("", f"{self.provider.short_label}'s default: {default}"),
            *WindowPolicy.choices,
        ]
        # Its own secrets, and any other provider's still stored, may be cleared.
        clearable = [n for n in SECRET_FIELDS if n in secrets or getattr(self.instance, n)]
        self.fields["clear_secrets"].choices = [
            (name, self.fields[name].label if name in self.fields else name.replace("_", " "))
            for name in clearable
        ]

    @property
    def secret_fields(self) -> list[str]:
        return [name for name in SECRET_FIELDS if name in self.fields]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("window_policy"):
            cleaned["window_policy"] = DEFAULT_WINDOW_POLICY[self.provider]
        if "keyword_replies" in self.fields and not cleaned.get("keyword_replies"):
            # Left out: as it is (a new channel: the provider's default).
            cleaned["keyword_replies"] = self.instance.keyword_replies
        cleared = cleaned.get("clear_secrets", [])
        for name in self.secret_fields:
            if not cleaned.get(name) and name not in cleared:
                cleaned[name] = getattr(self.instance, name)
        self._check_provider_requirements(cleaned)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # Another provider's secret has no box: cleared here, after the form's fields
        # were copied onto the channel.
        for name in self.cleaned_data.get("clear_secrets", []):
            setattr(self.instance, name, "")

    def _check_provider_requirements(self, cleaned: dict) -> None:
        if not cleaned.get("organization"):
            return
        candidate = copy(self.instance)
        for field, value in cleaned.items():
            if field in self._meta.fields:
                setattr(candidate, field, value)
        for name in cleaned.get("clear_secrets", []):
            setattr(candidate, name, "")
        try:
            # Also reads a WhatsApp number at Meta with the token: see the service.
            services.channel_validate(channel=candidate)
        except ApplicationError as exc:
            self._add_errors(exc)
            return
        cleaned["display_phone_number"] = candidate.display_phone_number

    def _add_errors(self, exc: ApplicationError) -> None:
        if exc.code != ErrorCode.VALIDATION_ERROR:  # e.g. Meta could not be reached
            self.add_error(None, exc.message)
            return
        for field, errors in exc.details.items():
            target = field if field in self.fields else None
            for error in errors:
                self.add_error(target, error["message"])
