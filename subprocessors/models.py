from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from tenants.crypto import BlindIndexField, EncryptedEmailField
from tenants.models import TenantOwned

EU_REGIONS = {"eu", "local"}


class DataCategory(models.TextChoices):
    """What a subprocessor may receive, in the words of the public register."""

    CALL_AUDIO = "call_audio", _("Call audio")
    TRANSCRIPTS = "transcripts", _("Transcripts")
    AGENT_REPLIES = "agent_replies", _("Agent replies")
    CONTACT_DETAILS = "contact_details", _("Contact details")
    CALL_METADATA = "call_metadata", _("Call metadata (numbers, times, duration)")
    REPORTS = "reports", _("Call summaries and reports")
    ACCOUNT_DATA = "account_data", _("Customer account data")
    TECHNICAL_LOGS = "technical_logs", _("Technical logs")


def _list_of_strings(value):
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError(_("Enter a list of non-empty texts."))


def _data_categories(value):
    _list_of_strings(value)
    unknown = sorted(set(value) - set(DataCategory.values))
    if unknown:
        raise ValidationError(_("Unknown data categories: %(names)s."), params={"names": ", ".join(unknown)})


class HttpsURLField(models.URLField):
    """A URL field whose form adds https:// to a bare domain (Django 6's default, chosen now)."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})


class Localised:
    """``localised("purpose")`` reads ``purpose_fr`` when the active language is French and it is filled in."""

    def localised(self, name: str) -> str:
        language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
        if language != "en":
            value = getattr(self, f"{name}_{language}", "")
            if value:
                return value
        return getattr(self, name)


class Subprocessor(Localised, models.Model):
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
    services = models.CharField(_("services"), max_length=300, blank=True,
                                help_text=_("What it does for CALLKOM, in English."))
    services_fr = models.CharField(_("services (French)"), max_length=300, blank=True)
    purpose = models.TextField(_("purpose"), blank=True, help_text=_("Why customer data goes there, in English."))
    purpose_fr = models.TextField(_("purpose (French)"), blank=True)
    data_categories = models.JSONField(_("data categories"), default=list, blank=True, validators=[_data_categories])
    processing_locations = models.JSONField(
        _("processing locations"), default=list, blank=True, validators=[_list_of_strings],
        help_text=_("Where the data is processed, e.g. [\"Belgium (europe-west1)\"]."))
    supplementary_measures = models.TextField(_("supplementary measures"), blank=True)
    supplementary_measures_fr = models.TextField(_("supplementary measures (French)"), blank=True)
    dpa_url = HttpsURLField(_("DPA link"), blank=True)
    certifications = models.JSONField(_("certifications"), default=list, blank=True, validators=[_list_of_strings])
    contact = models.CharField(_("contact"), max_length=200, blank=True,
                               help_text=_("The provider's privacy contact (an address or a web page)."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    effective_from = models.DateField(_("in service from"), null=True, blank=True)
    effective_until = models.DateField(_("in service until"), null=True, blank=True)
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

    def in_service(self, today=None) -> bool:
        """Active, switched on by staff, and within its effective dates."""
        today = today or timezone.localdate()
        if self.status != self.Status.ACTIVE or self.temporarily_disabled:
            return False
        if self.effective_from and self.effective_from > today:
            return False
        return not (self.effective_until and self.effective_until < today)

    def usable_for(self, region_policy: str, today=None) -> bool:
        """Return whether the pipeline may send a tenant's data here now (objections are checked by the caller)."""
        return self.in_service(today) and (self.in_eu or region_policy == "any")



class RegisterVersion(models.Model):
    """One published version of the public list: an immutable snapshot with its diff from the previous one."""

    number = models.PositiveIntegerField(_("version"), unique=True, editable=False)
    published_at = models.DateTimeField(_("published"), default=timezone.now, editable=False)
    snapshot = models.JSONField(_("list"), editable=False)
    diff = models.JSONField(_("changes from the previous version"), editable=False)
    digest = models.CharField(_("SHA-256 of the list"), max_length=64, editable=False)
    notice = models.ForeignKey("ChangeNotice", on_delete=models.PROTECT, null=True, blank=True, editable=False,
                               related_name="versions", verbose_name=_("change notice"))
    note = models.CharField(_("note"), max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("published list version")
        verbose_name_plural = _("published list versions")
        ordering = ["-number"]

    def __str__(self):
        return f"v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(_("A published version cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("A published version cannot be deleted."))


class ChangeNotice(Localised, models.Model):
    """A change to the list announced to customers ahead of its effective date; they may object meanwhile."""

    class Kind(models.TextChoices):
        ADDITION = "addition", _("Addition")
        REPLACEMENT = "replacement", _("Replacement")
        REMOVAL = "removal", _("Removal")
        CHANGE = "change", _("Change")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ANNOUNCED = "announced", _("Announced")
        APPLIED = "applied", _("Applied")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    # The fields a "change" notice may set on its subprocessor when it takes effect.
    CHANGEABLE = ("legal_entity", "processing_region", "country", "transfer_mechanism", "processing_locations",
                  "supplementary_measures", "supplementary_measures_fr", "data_categories", "services",
                  "services_fr", "purpose", "purpose_fr", "no_training_enabled", "zero_retention_enabled")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    subprocessor = models.ForeignKey(
        Subprocessor, on_delete=models.PROTECT, related_name="notices", verbose_name=_("subprocessor"),
        help_text=_("The provider added, removed or changed; for a replacement, the incoming one."))
    replaces = models.ForeignKey(Subprocessor, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="replaced_by_notices", verbose_name=_("replaces"))
    changes = models.JSONField(_("changes"), default=dict, blank=True,
                               help_text=_("For a change: the new values, e.g. {\"processing_region\": \"us\"}."))
    summary = models.TextField(_("summary"), help_text=_("What changes and why, in English."))
    summary_fr = models.TextField(_("summary (French)"), blank=True)
    effective_date = models.DateField(_("effective date"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT,
                              editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    announced_at = models.DateTimeField(_("announced"), null=True, blank=True, editable=False)
    announced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", editable=False, verbose_name=_("announced by"))
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True, editable=False)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("change notice")
        verbose_name_plural = _("change notices")
        ordering = ["-effective_date", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subprocessor} ({self.effective_date:%Y-%m-%d})"

    @property
    def objectable(self) -> bool:
        """Whether customers may object: it brings a provider in or changes one, and is announced, not yet in force."""
        return (self.status == self.Status.ANNOUNCED and self.kind != self.Kind.REMOVAL
                and timezone.localdate() < self.effective_date)


class Objection(TenantOwned):
    """A customer's objection to a change notice; while open (or once exempted) its data never goes there."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered (objection withdrawn)")
        EXEMPTED = "exempted", _("Tenant exempted from the new provider")
        CONTRACT_ENDED = "contract_ended", _("Contract ended")

    BLOCKING = (Status.OPEN, Status.EXEMPTED, Status.CONTRACT_ENDED)

    notice = models.ForeignKey(ChangeNotice, on_delete=models.PROTECT, related_name="objections",
                               verbose_name=_("change notice"))
    reason = models.TextField(_("reason"))
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                  related_name="+", verbose_name=_("raised by"))
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(_("answer"), blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("resolved by"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["-raised_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "notice"], name="one_objection_per_notice")]

    def __str__(self):
        return f"{self.tenant_id} / {self.notice_id}"


class Subscriber(models.Model):
    """Someone outside the customers' DPO and owners who asked for change notices (double opt-in)."""

    email = EncryptedEmailField(_("e-mail"))
    email_index = BlindIndexField(unique=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES,
                                default=settings.LANGUAGE_CODE)
    created_at = models.DateTimeField(_("subscribed"), default=timezone.now)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice subscriber")
        verbose_name_plural = _("notice subscribers")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{_('subscriber')} #{self.pk}"

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Mailing(models.Model):
    """One message to many recipients (a change notice, a new DPA or AI policy), sent once to each by Celery."""

    key = models.CharField(_("key"), max_length=80, unique=True,
                           help_text=_("What it announces, e.g. notice-12; a key is mailed once."))
    template = models.CharField(_("template"), max_length=120)
    context = models.JSONField(_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at"]

    def __str__(self):
        return self.key


class MailingRecipient(models.Model):
    """One address of a mailing; ``sent_at`` is set once, under a conditional update, so no one gets it twice."""

    class Source(models.TextChoices):
        CUSTOMER = "customer", _("Customer DPO or owner")
        SUBSCRIBER = "subscriber", _("Subscriber")

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="recipients")
    address = EncryptedEmailField(_("e-mail"))
    address_index = BlindIndexField()
    language = models.CharField(_("language"), max_length=8, default=settings.LANGUAGE_CODE)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("mailing recipient")
        verbose_name_plural = _("mailing recipients")
        constraints = [models.UniqueConstraint(fields=["mailing", "address_index"], name="mailed_once")]

    def __str__(self):
        return f"{self.mailing_id} #{self.pk}"
