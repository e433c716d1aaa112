import django.db.models.deletion
from django.db import migrations

import tenants.models


def create_missing_settings(apps, schema_editor):
    """Give every tenant that has no settings row one with the defaults."""
    Tenant = apps.get_model("tenants", "Tenant")
    TenantSettings = apps.get_model("tenants", "TenantSettings")
    missing = Tenant.objects.filter(settings__isnull=True).values_list("pk", flat=True)
    TenantSettings._base_manager.bulk_create([TenantSettings(tenant_id=pk) for pk in missing])


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_idempotency"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tenantsettings",
            name="tenant",
            field=tenants.models.SettingsOneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="settings", to="tenants.tenant",
                verbose_name="tenant",
            ),
        ),
        migrations.RunPython(create_missing_settings, migrations.RunPython.noop),
    ]
