from django.apps import AppConfig


class TemplatesConfig(AppConfig):
    """WhatsApp message templates and their lifecycle."""

    name = "templates"
    verbose_name = "Message templates"
