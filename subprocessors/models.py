from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EU_REGIONS = {"eu", "local"}


class Subprocessor(models.Model):
    """A provider or technical component that may process customer data (a row of the public register)."""

    class Role(models.TextChoices):
        STT = "stt", _("Speech-to-text")
        LLM = "llm", _("Language model")
        TTS = "tts", _("Text-to-speech")
        HOSTING = "hosting", _("Hosting")
        QUEUE = "queue", _("Message queue")
        TELEPHONY = "telephony", _("Telephony")

    class Transfer(models.TextChoices):
        EU = "eu", _("Processing in the EU")
        ADEQUACY = "adequacy", _("Adequacy decision")
        SCC = "scc", _("Standard Contractual Clauses")
        OTHER = "other", _("Other safeguard")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    legal_entity = models.CharField(_("legal entity"), max_length=200)
    processing_region = models.CharField(
        _("processing region"), max_length=16, help_text=_("eu, us, … or local (CALLKOM's own servers in the EU).")
    )
    country = models.CharField(_("country"), max_length=2)
    transfer_mechanism = models.CharField(_("transfer mechanism"), max_length=16, choices=Transfer.choices)
    no_training_offered = models.BooleanField(_("no-training option offered"), default=False)
    no_training_enabled = models.BooleanField(_("no-training option on"), default=False)
    zero_retention_offered = models.BooleanField(_("zero-retention option offered"), default=False)
    zero_retention_enabled = models.BooleanField(_("zero-retention option on"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    temporarily_disabled = models.BooleanField(
        _("temporarily deactivated"), default=False,
        help_text=_("Staff switch: the pipeline skips this provider and falls back to the next one."),
    )
    disabled_reason = models.CharField(_("reason for deactivation"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("subprocessor")
        verbose_name_plural = _("subprocessors")
        ordering = ["role", "name"]

    def __str__(self):
        return self.name

    @property
    def in_eu(self):
        return self.processing_region in EU_REGIONS

    def usable_for(self, region_policy: str) -> bool:
        """Return whether the pipeline may send a tenant's data here now."""
        if self.status != self.Status.ACTIVE or self.temporarily_disabled:
            return False
        return self.in_eu or region_policy == "any"
