import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0005_channel_keyword_replies")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="message_retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Blank the contents of messages (and their raw webhooks) older than "
                "this many days. Empty: keep them forever. Conversations and counts are kept.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
    ]
