import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.crypto import BlindIndexField, EncryptedCharField, EncryptedEmailField, EncryptedTextField
from tenants.models import LegalBasis, TenantOwned


class Language(models.TextChoices):
    FR = "fr", _("French")
    EN = "en", _("English")


def _default_steps():
    return []


def _default_tools():
    return ["transfer", "end_call"]


class Script(TenantOwned):
    """What the agent says and aims for on a call: greeting (with the AI disclosure), goal, steps, rules."""

    name = models.CharField(_("name"), max_length=120)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.FR)
    voice = models.CharField(_("voice"), max_length=80, blank=True)
    greeting = models.TextField(
        _("greeting"), help_text=_("The agent's first sentence. It must say that the caller is talking to an AI.")
    )
    goal = models.TextField(_("goal"))
    steps = models.JSONField(_("steps"), default=_default_steps, blank=True,
                             help_text=_("Ordered questions, each filling one report field."))
    instructions = models.TextField(_("instructions"), blank=True)
    closing = models.TextField(_("closing line"), blank=True)
    allowed_tools = models.JSONField(_("allowed tools"), default=_default_tools, blank=True)
    max_duration_s = models.PositiveIntegerField(
        _("maximum duration (s)"), default=600, validators=[MinValueValidator(30), MaxValueValidator(3600)]
    )
    silence_timeout_s = models.PositiveIntegerField(
        _("silence timeout (s)"), default=8, validators=[MinValueValidator(2), MaxValueValidator(60)]
    )
    transfer_on_request = models.BooleanField(_("transfer when the caller asks for a person"), default=True)
    transfer_after_misunderstandings = models.PositiveSmallIntegerField(
        _("transfer after this many misunderstandings"), default=3
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("script")
        verbose_name_plural = _("scripts")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="script_unique_name")]

    def __str__(self):
        return self.name


class Contact(TenantOwned):
    """A person the customer asked CALLKOM to call. Everything about them is encrypted; phone and e-mail are
    also blind-indexed so that rights requests and do-not-call checks can find them."""

    name = EncryptedCharField(_("name"), max_length=200, blank=True)
    phone = EncryptedCharField(_("phone"), max_length=32)
    email = EncryptedEmailField(_("e-mail"), blank=True)
    company = EncryptedCharField(_("company"), max_length=200, blank=True)
    custom_fields = EncryptedTextField(_("custom fields (JSON)"), blank=True, default="")
    notes = EncryptedTextField(_("notes"), blank=True, default="")
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True,
                                 help_text=_("Empty: taken from the phone number."))
    phone_index = BlindIndexField()
    email_index = BlindIndexField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["tenant", "phone_index"], name="contact_tenant_phone"),
            models.Index(fields=["tenant", "email_index"], name="contact_tenant_email"),
        ]

    def __str__(self):
        return f"Contact {self.pk}"


class Call(TenantOwned):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Telephone")
        WEB = "web", _("Browser simulator")
        CLI = "cli", _("Command-line simulator")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RINGING = "ringing", _("Ringing")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        TRANSFERRED = "transferred", _("Transferred")
        NO_ANSWER = "no_answer", _("No answer")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    class Outcome(models.TextChoices):
        PENDING = "", _("Pending")
        APPOINTMENT = "appointment", _("Appointment")
        INFORMATION = "information", _("Information collected")
        TRANSFERRED = "transferred", _("Transferred to a person")
        REFUSED = "refused", _("Refused")
        NO_RESULT = "no_result", _("No result")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.PHONE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="+", verbose_name=_("script"))
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("contact"))
    legal_basis = models.CharField(_("legal basis"), max_length=32, choices=LegalBasis.choices)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="calls", verbose_name=_("campaign"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=40, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True, default="")
    turn_metrics = models.JSONField(_("turn metrics"), default=list, blank=True)
    interruptions = models.PositiveIntegerField(_("interruptions"), default=0)
    providers_used = models.JSONField(_("providers used"), default=list, blank=True)
    special_category = models.BooleanField(_("special-category data mentioned"), default=False)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="call_tenant_created"),
            models.Index(fields=["tenant", "status", "-created_at"], name="call_tenant_status"),
        ]

    def __str__(self):
        return f"Call {self.pk}"

    @property
    def is_over(self):
        return self.status in {self.Status.COMPLETED, self.Status.TRANSFERRED, self.Status.NO_ANSWER,
                               self.Status.FAILED, self.Status.CANCELED}


def campaign_model():
    """Return the campaigns app's Campaign, reached through ``Call.campaign``: the calls app never imports campaigns
    (DESIGN.md §2); that foreign key, by name, is the one reference back."""
    return Call._meta.get_field("campaign").related_model


class Utterance(TenantOwned):
    class Speaker(models.TextChoices):
        CALLER = "caller", _("Caller")
        AGENT = "agent", _("Agent")

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="utterances")
    seq = models.PositiveIntegerField()
    speaker = models.CharField(max_length=8, choices=Speaker.choices)
    text = EncryptedTextField()
    started_ms = models.PositiveIntegerField(null=True, blank=True)
    ended_ms = models.PositiveIntegerField(null=True, blank=True)
    interrupted = models.BooleanField(default=False)
    final = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("utterance")
        verbose_name_plural = _("utterances")
        ordering = ["call", "seq"]
        constraints = [models.UniqueConstraint(fields=["call", "seq"], name="utterance_unique_seq")]
        indexes = [models.Index(fields=["tenant", "call"], name="utterance_tenant_call")]

    def __str__(self):
        return f"Utterance {self.seq} of call {self.call_id}"


class CallReport(TenantOwned):
    class Source(models.TextChoices):
        LLM = "llm", _("Language model")
        LLM_REPAIRED = "llm_repaired", _("Language model, after one repair")
        LOCAL = "local", _("Local extractor")

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="report")
    summary = EncryptedTextField(_("summary"), blank=True, default="")
    name = EncryptedCharField(_("name"), max_length=200, blank=True)
    phone = EncryptedCharField(_("phone"), max_length=32, blank=True)
    email = EncryptedEmailField(_("e-mail"), blank=True)
    company = EncryptedCharField(_("company"), max_length=200, blank=True)
    need = EncryptedTextField(_("need"), blank=True, default="")
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    appointment_tz = models.CharField(_("appointment time zone"), max_length=64, blank=True)
    next_step = EncryptedTextField(_("next step"), blank=True, default="")
    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    special_category = models.BooleanField(_("special-category data"), default=False)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    phone_index = BlindIndexField()
    email_index = BlindIndexField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("call report")
        verbose_name_plural = _("call reports")

    def __str__(self):
        return f"Report of call {self.call_id}"


class InboundNumber(TenantOwned):
    """A phone number linked to a tenant: LiveKit's SIP dispatch rule puts its calls in a room the bridge joins."""

    number = models.CharField(_("number"), max_length=20, unique=True, help_text=_("E.164, e.g. +33123456789."))
    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="+", verbose_name=_("script"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("inbound number")
        verbose_name_plural = _("inbound numbers")

    def __str__(self):
        return self.number


class SupervisorAction(TenantOwned):
    """A person stepping into a call: taking it over, hanging it up, or leaving a note ("human control")."""

    class Action(models.TextChoices):
        TAKE_OVER = "take_over", _("Take over")
        HANG_UP = "hang_up", _("Hang up")
        NOTE = "note", _("Note")

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="supervisor_actions")
    user = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    note = EncryptedTextField(_("note"), blank=True, default="")
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("supervisor action")
        verbose_name_plural = _("supervisor actions")
        ordering = ["at"]

    def __str__(self):
        return f"{self.action} on call {self.call_id}"


class Recording(TenantOwned):
    """The audio of a call, when the tenant records calls: caller left, agent right, encrypted at rest."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="recording")
    path = models.CharField(max_length=200)  # in the default storage; the file holds a Fernet token, not audio
    duration_ms = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")

    def __str__(self):
        return f"Recording of call {self.call_id}"


class DoNotCallSource(models.TextChoices):
    OBJECTION = "objection", _("Objection by the person")
    RIGHTS_REQUEST = "rights_request", _("Rights request")
    MANUAL = "manual", _("Added by hand")
    IMPORT = "import", _("Imported")


class DoNotCall(TenantOwned):
    """A number this tenant must never call. Found by its blind index; the number itself is kept encrypted."""

    phone = EncryptedCharField(_("phone"), max_length=32)
    phone_index = BlindIndexField()
    source = models.CharField(_("source"), max_length=16, choices=DoNotCallSource.choices,
                              default=DoNotCallSource.MANUAL)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("do-not-call entry")
        verbose_name_plural = _("do-not-call list")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "phone_index"], name="donotcall_unique_number")]

    def __str__(self):
        return f"Do-not-call entry {self.pk}"


class PlatformDoNotCall(models.Model):
    """A person who objects to every call placed through CALLKOM, whichever customer places it."""

    phone_index = BlindIndexField(unique=True)
    source = models.CharField(_("source"), max_length=16, choices=DoNotCallSource.choices,
                              default=DoNotCallSource.OBJECTION)
    created_at = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("platform-wide do-not-call entry")
        verbose_name_plural = _("platform-wide do-not-call list")

    def __str__(self):
        return f"Platform do-not-call entry {self.pk}"
