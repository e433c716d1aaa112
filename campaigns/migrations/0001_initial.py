"""The campaigns app takes over the models it held in the calls app (calls 0008 lets them go), without moving a
row: the tables keep their names (``db_table``), so only the migration state changes. Their content types follow,
so that permissions and the audit log's entries stay attached to them.
"""

import campaigns.models
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models



MOVED = ["campaign", "campaigntarget", "contactimport", "contactlist", "contactlistentry", "dialerskip",
         "riskfinding"]


def _relabel(apps, schema_editor, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=new, model__in=MOVED).delete()  # none yet, unless created by hand
    ContentType.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def content_types_forward(apps, schema_editor):
    _relabel(apps, schema_editor, "calls", "campaigns")


def content_types_backward(apps, schema_editor):
    _relabel(apps, schema_editor, "campaigns", "calls")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("calls", "0007_contact_import_index"),
        ("tenants", "0005_idempotency"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[

                migrations.CreateModel(
                    name='Campaign',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120, verbose_name='name')),
                        ('legal_basis', models.CharField(choices=[('consent', 'Consent (Art. 6(1)(a))'), ('contract', 'Contract (Art. 6(1)(b))'), ('legal_obligation', 'Legal obligation (Art. 6(1)(c))'), ('vital_interests', 'Vital interests (Art. 6(1)(d))'), ('public_task', 'Public task (Art. 6(1)(e))'), ('legitimate_interests', 'Legitimate interests (Art. 6(1)(f))')], max_length=32, verbose_name='legal basis')),
                        ('consent_proof', models.CharField(blank=True, max_length=200, verbose_name='consent proof reference')),
                        ('audience', models.CharField(choices=[('consumers', 'Consumers (canvassing)'), ('businesses', 'Businesses')], default='consumers', max_length=16, verbose_name='audience')),
                        ('ongoing_contract', models.BooleanField(default=False, help_text='Calls about a contract in progress with the person need no prior consent to canvassing.', verbose_name='about an ongoing contract')),
                        ('calling_days', models.JSONField(default=campaigns.models._default_calling_days, verbose_name='calling days')),
                        ('calling_windows', models.JSONField(default=campaigns.models._default_windows, verbose_name='calling windows')),
                        ('skip_public_holidays', models.BooleanField(default=True, verbose_name='not on public holidays')),
                        ('default_timezone', models.CharField(default='Europe/Paris', max_length=64, verbose_name='time zone when the number does not tell')),
                        ('max_attempts', models.PositiveSmallIntegerField(default=4, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(20)], verbose_name='attempts per number')),
                        ('attempts_period_days', models.PositiveSmallIntegerField(default=30, validators=[django.core.validators.MinValueValidator(1)], verbose_name='over this many days')),
                        ('refusal_cooldown_days', models.PositiveSmallIntegerField(default=60, verbose_name='no new call after a refusal for (days)')),
                        ('retry_delay_minutes', models.PositiveIntegerField(default=240, validators=[django.core.validators.MinValueValidator(5)], verbose_name='retry after no answer (minutes)')),
                        ('max_concurrent_calls', models.PositiveSmallIntegerField(default=2, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(100)], verbose_name='calls at the same time')),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('running', 'Running'), ('paused', 'Paused'), ('completed', 'Completed'), ('canceled', 'Canceled')], default='draft', max_length=16, verbose_name='status')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                        ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('script', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='calls.script', verbose_name='script')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'verbose_name': 'campaign',
                        'verbose_name_plural': 'campaigns',
                        'db_table': 'calls_campaign',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='CampaignTarget',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('pending', 'To call'), ('calling', 'Call in progress'), ('done', 'Reached'), ('excluded', 'Excluded'), ('exhausted', 'Attempts used up')], default='pending', max_length=16, verbose_name='status')),
                        ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='next attempt')),
                        ('last_skip_reason', models.CharField(blank=True, max_length=32, verbose_name='last skip reason')),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('campaign', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='targets', to='campaigns.campaign')),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='calls.contact')),
                        ('last_call', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='calls.call')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'verbose_name': 'campaign target',
                        'verbose_name_plural': 'campaign targets',
                        'db_table': 'calls_campaigntarget',
                    },
                ),
                migrations.CreateModel(
                    name='ContactList',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120, verbose_name='name')),
                        ('description', models.TextField(blank=True, verbose_name='description')),
                        ('legal_basis', models.CharField(blank=True, choices=[('consent', 'Consent (Art. 6(1)(a))'), ('contract', 'Contract (Art. 6(1)(b))'), ('legal_obligation', 'Legal obligation (Art. 6(1)(c))'), ('vital_interests', 'Vital interests (Art. 6(1)(d))'), ('public_task', 'Public task (Art. 6(1)(e))'), ('legitimate_interests', 'Legitimate interests (Art. 6(1)(f))')], max_length=32, verbose_name='legal basis')),
                        ('consent_proof', models.CharField(blank=True, help_text="Where the proof of each person's consent is kept (required when the basis is consent).", max_length=200, verbose_name='consent proof reference')),
                        ('risk_checked_at', models.DateTimeField(blank=True, null=True, verbose_name='risks checked')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'verbose_name': 'contact list',
                        'verbose_name_plural': 'contact lists',
                        'db_table': 'calls_contactlist',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ContactImport',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('file_name', models.CharField(max_length=200, verbose_name='file name')),
                        ('file_format', models.CharField(choices=[('csv', 'CSV'), ('xlsx', 'XLSX')], max_length=8, verbose_name='format')),
                        ('path', models.CharField(blank=True, max_length=200)),
                        ('headers', models.JSONField(blank=True, default=list, verbose_name='columns')),
                        ('mapping', models.JSONField(blank=True, default=dict, verbose_name='column mapping')),
                        ('status', models.CharField(choices=[('uploaded', 'Waiting for the column mapping'), ('queued', 'Queued'), ('validating', 'Checking the rows'), ('needs_decision', 'Errors found: nothing imported'), ('importing', 'Importing'), ('completed', 'Completed'), ('failed', 'Failed'), ('canceled', 'Canceled')], default='uploaded', max_length=16, verbose_name='status')),
                        ('import_valid_rows', models.BooleanField(default=False, verbose_name='import the valid rows despite errors')),
                        ('total_rows', models.PositiveIntegerField(default=0, verbose_name='rows')),
                        ('processed_rows', models.PositiveIntegerField(default=0, verbose_name='rows processed')),
                        ('imported_rows', models.PositiveIntegerField(default=0, verbose_name='rows imported')),
                        ('duplicate_rows', models.PositiveIntegerField(default=0, verbose_name='duplicates')),
                        ('invalid_rows', models.PositiveIntegerField(default=0, verbose_name='invalid rows')),
                        ('errors', models.JSONField(blank=True, default=list, verbose_name='errors')),
                        ('failure', models.CharField(blank=True, max_length=300, verbose_name='failure')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                        ('contact_list', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='imports', to='campaigns.contactlist', verbose_name='contact list')),
                    ],
                    options={
                        'verbose_name': 'contact import',
                        'verbose_name_plural': 'contact imports',
                        'db_table': 'calls_contactimport',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.AddField(
                    model_name='campaign',
                    name='contact_list',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='campaigns', to='campaigns.contactlist', verbose_name='contact list'),
                ),
                migrations.CreateModel(
                    name='ContactListEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('added_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='list_entries', to='calls.contact')),
                        ('contact_list', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='campaigns.contactlist')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'verbose_name': 'contact list entry',
                        'verbose_name_plural': 'contact list entries',
                        'db_table': 'calls_contactlistentry',
                    },
                ),
                migrations.AddField(
                    model_name='contactlist',
                    name='contacts',
                    field=models.ManyToManyField(related_name='lists', through='campaigns.ContactListEntry', to='calls.contact'),
                ),
                migrations.CreateModel(
                    name='DialerSkip',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reason', models.CharField(choices=[('outside_window', 'Outside the calling hours'), ('not_a_calling_day', 'Not a calling day'), ('public_holiday', 'Public holiday'), ('do_not_call', 'On the do-not-call list'), ('platform_do_not_call', 'Objects to every CALLKOM call'), ('restricted', 'Processing restricted (legal hold)'), ('attempt_cap', 'Attempt limit reached'), ('refusal_cooldown', 'Refused recently'), ('no_consent', 'No prior consent to canvassing'), ('invalid_number', 'Number not valid'), ('call_failed', 'The call could not be placed')], max_length=32, verbose_name='reason')),
                        ('detail', models.CharField(blank=True, max_length=300, verbose_name='detail')),
                        ('retry_at', models.DateTimeField(blank=True, null=True, verbose_name='may be tried again')),
                        ('at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='when')),
                        ('campaign', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='skips', to='campaigns.campaign')),
                        ('target', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='skips', to='campaigns.campaigntarget')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'verbose_name': 'dialer skip',
                        'verbose_name_plural': 'dialer skips',
                        'db_table': 'calls_dialerskip',
                        'ordering': ['-at'],
                    },
                ),
                migrations.CreateModel(
                    name='RiskFinding',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('do_not_call', 'Numbers on the do-not-call list'), ('objection', 'Numbers of people who objected'), ('special_category', 'Column with special-category data'), ('unneeded_data', 'Column with data a call does not need'), ('no_legal_basis', 'No legal basis')], max_length=20, verbose_name='kind')),
                        ('column', models.CharField(blank=True, max_length=120, verbose_name='column')),
                        ('affected', models.PositiveIntegerField(default=0, verbose_name='contacts affected')),
                        ('detail', models.CharField(blank=True, max_length=300, verbose_name='detail')),
                        ('status', models.CharField(choices=[('open', 'Open'), ('fixed', 'Fixed'), ('acknowledged', 'Acknowledged')], default='open', max_length=16, verbose_name='status')),
                        ('acknowledgement', models.TextField(blank=True, verbose_name='acknowledgement')),
                        ('resolved_at', models.DateTimeField(blank=True, null=True, verbose_name='resolved')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('contact_list', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='findings', to='campaigns.contactlist')),
                        ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                    ],
                    options={
                        'verbose_name': 'risk finding',
                        'verbose_name_plural': 'risk findings',
                        'db_table': 'calls_riskfinding',
                        'ordering': ['contact_list', 'kind', 'column'],
                    },
                ),
                migrations.AddIndex(
                    model_name='campaigntarget',
                    index=models.Index(fields=['tenant', 'campaign', 'status', 'next_attempt_at'], name='target_due'),
                ),
                migrations.AddConstraint(
                    model_name='campaigntarget',
                    constraint=models.UniqueConstraint(fields=('campaign', 'contact'), name='campaigntarget_unique'),
                ),
                migrations.AddIndex(
                    model_name='contactimport',
                    index=models.Index(fields=['tenant', '-created_at'], name='contactimport_tenant_created'),
                ),
                migrations.AddIndex(
                    model_name='campaign',
                    index=models.Index(fields=['status'], name='campaign_status'),
                ),
                migrations.AddConstraint(
                    model_name='campaign',
                    constraint=models.UniqueConstraint(fields=('tenant', 'name'), name='campaign_unique_name'),
                ),
                migrations.AddIndex(
                    model_name='contactlistentry',
                    index=models.Index(fields=['tenant', 'contact_list', 'id'], name='listentry_tenant_list'),
                ),
                migrations.AddConstraint(
                    model_name='contactlistentry',
                    constraint=models.UniqueConstraint(fields=('contact_list', 'contact'), name='contactlistentry_unique'),
                ),
                migrations.AddConstraint(
                    model_name='contactlist',
                    constraint=models.UniqueConstraint(fields=('tenant', 'name'), name='contactlist_unique_name'),
                ),
                migrations.AddIndex(
                    model_name='dialerskip',
                    index=models.Index(fields=['tenant', 'campaign', '-at'], name='skip_tenant_campaign'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
