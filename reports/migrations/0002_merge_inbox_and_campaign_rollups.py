# The inbox and campaign rollups were written on two branches, each as the app's first
# migration; this joins them until the branches are renumbered at their merge into main.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_campaign_rollups"),
        ("reports", "0001_inbox_rollups"),
    ]

    operations = []
