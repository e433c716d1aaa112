from tenants.models import TenantSettings
from tenants.testing import TwoTenantTestCase


def form_data(**overrides):
    data = {
        "settings-recording_enabled": "on",
        "settings-retention_recordings_days": "90",
        "settings-retention_transcripts_days": "365",
        "settings-retention_reports_days": "365",
        "settings-retention_ai_payloads_days": "30",
        "settings-retention_ai_metadata_days": "365",
        "settings-retention_rights_files_days": "1825",
        "settings-retention_technical_logs_days": "90",
        "settings-human_transfer_number": "01 23 45 67 89",
        "settings-ai_excluded_fields": ["email", "notes"],
        "settings-default_legal_basis": "contract",
        "settings-calling_window_start": "09:00",
        "settings-calling_window_end": "18:00",
        "settings-calling_days": ["0", "1", "2"],
        "settings-calling_timezone": "Europe/Paris",
        "contact-legal_name": "Alpha SAS",
        "contact-country": "FR",
        "contact-dpo_name": "Dana",
        "contact-dpo_email": "dana@alpha.example",
        "contact-dpo_phone": "",
    }
    data.update(overrides)
    return data


class SettingsPageTests(TwoTenantTestCase):
    def saved(self):
        with self.in_alpha():
            return TenantSettings.objects.get()

    def test_owner_saves_settings_normalised(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/settings/", form_data())
        self.assertRedirects(response, "/t/alpha/settings/")
        saved = self.saved()
        self.assertTrue(saved.recording_enabled)
        self.assertEqual(saved.retention_recordings_days, 90)
        self.assertEqual(saved.human_transfer_number, "+33123456789")
        self.assertEqual(saved.ai_excluded_fields, ["email", "notes"])
        self.assertEqual(saved.calling_days, [0, 1, 2])
        self.alpha.refresh_from_db()
        self.assertEqual(self.alpha.dpo_email, "dana@alpha.example")

    def test_bad_input_is_a_form_error_and_changes_nothing(self):
        self.login(self.alice)
        cases = {
            "settings-human_transfer_number": "12",
            "settings-calling_window_end": "08:00",
            "settings-calling_timezone": "Mars/Olympus",
            "settings-retention_recordings_days": "0",
            "settings-retention_transcripts_days": "366",  # past the CNIL's one year for documents of a call
            "settings-ai_excluded_fields": ["password"],
        }
        for field, value in cases.items():
            response = self.client.post("/t/alpha/settings/", form_data(**{field: value}))
            self.assertEqual(response.status_code, 200, field)
            self.assertContains(response, "errorlist", msg_prefix=field)
            self.assertFalse(self.saved().recording_enabled, field)

    def test_viewer_sees_settings_but_cannot_change_them(self):
        self.login(self.bob)
        self.assertContains(self.client.get("/t/alpha/settings/"), "disabled")
        self.assertEqual(self.client.post("/t/alpha/settings/", form_data()).status_code, 403)
        self.assertFalse(self.saved().recording_enabled)
