"""The contact lists, imports, risk findings, campaigns, targets and dialer skips move to the campaigns app.

State only: the tables keep their names (``db_table``) and their rows; campaigns' 0001 takes the models over.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0007_contact_import_index"),
        ("campaigns", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[

                migrations.RemoveField(
                    model_name='campaign',
                    name='contact_list',
                ),
                migrations.RemoveField(
                    model_name='campaign',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='campaign',
                    name='script',
                ),
                migrations.RemoveField(
                    model_name='campaign',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='dialerskip',
                    name='campaign',
                ),
                migrations.RemoveField(
                    model_name='campaigntarget',
                    name='campaign',
                ),
        migrations.AlterField(
                    model_name='call',
                    name='campaign',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='calls', to='campaigns.campaign', verbose_name='campaign'),
                ),
                migrations.RemoveField(
                    model_name='campaigntarget',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='campaigntarget',
                    name='last_call',
                ),
                migrations.RemoveField(
                    model_name='campaigntarget',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='dialerskip',
                    name='target',
                ),
                migrations.RemoveField(
                    model_name='contactimport',
                    name='contact_list',
                ),
                migrations.RemoveField(
                    model_name='contactimport',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='contactimport',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='contactlist',
                    name='contacts',
                ),
                migrations.RemoveField(
                    model_name='contactlist',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='contactlist',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='contactlistentry',
                    name='contact_list',
                ),
                migrations.RemoveField(
                    model_name='riskfinding',
                    name='contact_list',
                ),
                migrations.RemoveField(
                    model_name='contactlistentry',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='contactlistentry',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='dialerskip',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='riskfinding',
                    name='resolved_by',
                ),
                migrations.RemoveField(
                    model_name='riskfinding',
                    name='tenant',
                ),
                migrations.DeleteModel(
                    name='Campaign',
                ),
                migrations.DeleteModel(
                    name='CampaignTarget',
                ),
                migrations.DeleteModel(
                    name='ContactImport',
                ),
                migrations.DeleteModel(
                    name='ContactList',
                ),
                migrations.DeleteModel(
                    name='ContactListEntry',
                ),
                migrations.DeleteModel(
                    name='DialerSkip',
                ),
                migrations.DeleteModel(
                    name='RiskFinding',
                ),
            ],
            database_operations=[],
        ),
    ]
