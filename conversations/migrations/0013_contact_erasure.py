"""Erasure of contacts: the audit record, and when a message's contents were blanked.

The new column is nullable without a default: PostgreSQL adds it without rewriting
the table (no long lock on the inbox)."""

import django.db.models.deletion
import django.utils.timezone
import tenants.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0012_consent'),
        ('tenants', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='contents_erased_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='ContactErasure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('identifier_kind', models.CharField(help_text='What was hashed: phone, wa_id...', max_length=16)),
                ('identifier_hash', models.CharField(db_index=True, help_text='HMAC-SHA256 of the identifier (ERASURE_HASH_KEY).', max_length=64)),
                ('source', models.CharField(choices=[('api', 'API'), ('admin', 'Admin'), ('command', 'Management command')], max_length=16)),
                ('requested_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('steps_done', models.JSONField(blank=True, default=list)),
                ('counts', models.JSONField(blank=True, default=dict)),
                ('pending_identifiers', tenants.fields.EncryptedTextField(blank=True)),
                ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='erasures', to='conversations.contact')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.organization')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['organization', '-requested_at'], name='erasure_org_requested')],
            },
        ),
    ]
