"""The templates list's query parameters: parsed, validated and documented by
django-filter, then handed to `templates.selectors.template_list` (see
conversations.api.filters)."""

from django_filters import rest_framework as filters

from conversations.api.filters import BooleanFilter
from templates.models import MessageTemplate, QualityScore, TemplateCategory, TemplateStatus
from tenants.api.fields import IdFilter


class TemplateFilter(filters.FilterSet):
    status = filters.CharFilter(
        help_text=f"Meta's status, e.g. {', '.join(TemplateStatus.KNOWN[:5])}... "
        "(case-insensitive; Meta adds values, so any is accepted)."
    )
    category = filters.ChoiceFilter(choices=TemplateCategory.choices)
    quality = filters.ChoiceFilter(choices=QualityScore.choices, help_text="Quality score.")
    language = filters.CharFilter(help_text="Meta's language code, e.g. en_US.")
    channel = IdFilter(help_text="Channel id.")
    q = filters.CharFilter(help_text="Part of the template's name.")
    removed = BooleanFilter(
        help_text="true: only templates Meta no longer lists; false (default): only the others."
    )

    class Meta:
        model = MessageTemplate
        fields = []

    def selector_arguments(self) -> dict:
        data = self.form.cleaned_data
        return {
            "status": data["status"] or "",
            "category": data["category"] or "",
            "quality": data["quality"] or "",
            "language": data["language"] or "",
            "channel_id": data["channel"],
            "search": data["q"] or "",
            "removed": bool(data["removed"]),
        }
