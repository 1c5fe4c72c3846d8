from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The inbox index also carries `updated_at`, so "updated since" is decided in the
    index. The new index is built before the old one goes: the inbox always has one."""

    dependencies = [
        ("conversations", "0004_search_trigram_indexes"),
        ("tenants", "0002_channelevent"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["organization", "-last_activity_at", "-id", "updated_at"],
                name="conversation_org_activity_upd",
            ),
        ),
        migrations.RemoveIndex(model_name="conversation", name="conversation_org_activity"),
    ]
