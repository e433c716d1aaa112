"""The models that moved from the calls app to the campaigns app keep every row, their content types (and so their
permissions and audit entries) and the calls that point at them."""

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from calls.models import Call
from campaigns.models import (
    Campaign,
    CampaignTarget,
    ContactImport,
    ContactList,
    ContactListEntry,
    DialerSkip,
    RiskFinding,
)
from tenants.scope import tenant_scope

BEFORE = [("calls", "0007_contact_import_index"), ("campaigns", None)]
MOVED = ["campaign", "campaigntarget", "contactimport", "contactlist", "contactlistentry", "dialerskip",
         "riskfinding"]


class MoveToCampaignsTests(TransactionTestCase):
    def setUp(self):
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in ("calls", "campaigns")]
        self.old = executor.loader.project_state([*others, BEFORE[0]]).apps
        self.rows = self.old_rows()

    def tearDown(self):
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    def model(self, name):
        return self.old.get_model("calls", name)

    def old_rows(self) -> dict:
        """Rows of each moved model, written through the schema before the move, and an audit entry."""
        tenant = self.old.get_model("tenants", "Tenant").objects.create(name="Alpha", slug="alpha",
                                                                        legal_name="Alpha SAS")
        script = self.model("Script").objects.create(tenant=tenant, name="S", language="fr", greeting="Bonjour",
                                                     goal="Goal")
        contact = self.model("Contact").objects.create(tenant=tenant, phone="+33612345678", phone_index="x" * 64)
        contact_list = self.model("ContactList").objects.create(tenant=tenant, name="Prospects")
        entry = self.model("ContactListEntry").objects.create(tenant=tenant, contact_list=contact_list,
                                                              contact=contact)
        campaign = self.model("Campaign").objects.create(tenant=tenant, name="Winter", script=script,
                                                         contact_list=contact_list, legal_basis="consent")
        target = self.model("CampaignTarget").objects.create(tenant=tenant, campaign=campaign, contact=contact)
        skip = self.model("DialerSkip").objects.create(tenant=tenant, campaign=campaign, target=target,
                                                       reason="outside_window")
        contact_import = self.model("ContactImport").objects.create(tenant=tenant, contact_list=contact_list,
                                                                    file_name="f.csv", file_format="csv")
        finding = self.model("RiskFinding").objects.create(tenant=tenant, contact_list=contact_list,
                                                           kind="no_legal_basis")
        call = self.model("Call").objects.create(tenant=tenant, script=script, contact=contact, campaign=campaign,
                                                 direction="outbound", legal_basis="consent")
        types = self.old.get_model("contenttypes", "ContentType").objects
        campaign_type = types.get(app_label="calls", model="campaign")
        self.old.get_model("auditlog", "LogEntry").objects.create(
            content_type_id=campaign_type.pk, object_pk=str(campaign.pk), object_id=campaign.pk,
            object_repr="Winter", action=0, changes="{}")
        return {"tenant": tenant.pk, "campaign": campaign.pk, "list": contact_list.pk, "entry": entry.pk,
                "target": target.pk, "skip": skip.pk, "import": contact_import.pk, "finding": finding.pk,
                "call": call.pk, "campaign_type": campaign_type.pk,
                "types": dict(types.filter(app_label="calls", model__in=MOVED).values_list("model", "pk"))}

    def test_every_row_is_there_after_the_move_under_the_campaigns_app(self):
        self.tearDown()  # migrate forward now; tearDown migrates again, which changes nothing
        rows = self.rows
        tenant = Call._meta.get_field("tenant").related_model.objects.get(pk=rows["tenant"])
        with tenant_scope(tenant):
            campaign = Campaign.objects.get(pk=rows["campaign"])
            self.assertEqual((campaign.name, campaign.contact_list_id), ("Winter", rows["list"]))
            self.assertEqual(Call.objects.get(pk=rows["call"]).campaign, campaign)
            self.assertEqual(list(campaign.calls.values_list("pk", flat=True)), [rows["call"]])
            self.assertEqual(ContactListEntry.objects.get(pk=rows["entry"]).contact_list_id, rows["list"])
            self.assertEqual(CampaignTarget.objects.get(pk=rows["target"]).campaign_id, rows["campaign"])
            self.assertEqual(DialerSkip.objects.get(pk=rows["skip"]).target_id, rows["target"])
            self.assertEqual(ContactImport.objects.get(pk=rows["import"]).file_name, "f.csv")
            self.assertEqual(RiskFinding.objects.get(pk=rows["finding"]).kind, "no_legal_basis")
            self.assertEqual(list(ContactList.objects.get(pk=rows["list"]).contacts.all()),
                             [CampaignTarget.objects.get(pk=rows["target"]).contact])
        moved = dict(ContentType.objects.filter(app_label="campaigns").values_list("model", "pk"))
        self.assertEqual(moved, rows["types"])  # the same rows, relabelled: permissions follow
        self.assertFalse(ContentType.objects.filter(app_label="calls", model__in=MOVED).exists())
        self.assertEqual(ContentType.objects.get_for_model(Campaign).pk, rows["campaign_type"])
        self.assertEqual(LogEntry.objects.get_for_object(campaign).get().object_repr, "Winter")
