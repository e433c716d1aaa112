import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.crypto import BlindIndexField, EncryptedCharField, EncryptedEmailField, EncryptedTextField
from tenants.models import Tenant, TenantOwned


class AIInvocation(TenantOwned):
    """One request to an AI provider: what went where, how big, how long, with what result.

    Append-only and hash-chained per tenant: each row's hash covers its fields and the previous row's hash, so an
    edited or deleted row breaks the chain (``verify_ai_log_chain``). The exact request is kept, encrypted, only
    when the tenant asks for it; it is outside the hash so that retention can delete it and keep the chain.
    """

    class Role(models.TextChoices):
        STT = "stt", _("Speech-to-text")
        LLM = "llm", _("Conversation")
        TTS = "tts", _("Text-to-speech")
        SUMMARY = "summary", _("Summary")
        EXTRACTION = "extraction", _("Report extraction")

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        ERROR = "error", _("Error")
        TIMEOUT = "timeout", _("Timeout")
        FILTERED = "filtered", _("Filtered")

    call_id = models.UUIDField(_("call"), null=True, blank=True)
    provider = models.CharField(_("provider"), max_length=60)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    model = models.CharField(_("model"), max_length=100)
    region = models.CharField(_("region"), max_length=16)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error_class = models.CharField(_("error"), max_length=100, blank=True)
    request_sha256 = models.CharField(max_length=64)
    request_bytes = models.PositiveIntegerField(default=0)
    response_sha256 = models.CharField(max_length=64, blank=True)
    response_bytes = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    minimised_fields = models.JSONField(_("fields removed"), default=list, blank=True)
    redactions = models.PositiveIntegerField(_("redactions"), default=0)
    no_training = models.BooleanField(_("no-training option in force"), default=False)
    register_version = models.CharField(_("subprocessor list version"), max_length=32, blank=True)
    payload = EncryptedTextField(_("exact request (encrypted)"), blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("AI request")
        verbose_name_plural = _("AI requests")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "call_id"], name="aiinv_tenant_call"),
            models.Index(fields=["tenant", "-started_at"], name="aiinv_tenant_started"),
            models.Index(fields=["tenant", "-id"], name="aiinv_tenant_id"),  # the API's pages, newest first
        ]

    def __str__(self):
        return f"{self.role} → {self.provider} ({self.outcome})"


class AILogHead(models.Model):
    """The end of a tenant's AI log chain; locked while a row is appended so that rows chain in order."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    last_hash = models.CharField(max_length=64)
    length = models.PositiveBigIntegerField(default=0)
    # Retention deletes the oldest rows once their metadata period ends: the chain then starts from the hash of the
    # last row deleted (the anchor), and ``pruned`` counts the rows that went, so that the proof still holds.
    anchor_hash = models.CharField(max_length=64, blank=True)
    pruned = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"AI log head of tenant {self.tenant_id}"


class IncidentCandidate(TenantOwned):
    """Something the safeguards caught (a reply replaced by the output filter); staff triage it into incidents."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        DISMISSED = "dismissed", _("Dismissed")
        ESCALATED = "escalated", _("Escalated to an incident")

    call_id = models.UUIDField(_("call"), null=True, blank=True)
    detected_at = models.DateTimeField(_("detected"), default=timezone.now)
    source = models.CharField(_("source"), max_length=40, default="output_filter")
    reason = models.CharField(_("reason"), max_length=60)
    provider = models.CharField(_("provider"), max_length=60, blank=True)
    excerpt = EncryptedTextField(_("excerpt of the replaced reply"), blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    incident = models.ForeignKey("Incident", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="candidates", verbose_name=_("incident"))

    class Meta:
        verbose_name = _("incident candidate")
        verbose_name_plural = _("incident candidates")
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["tenant", "status", "-detected_at"], name="incidentcand_tenant_status")]

    def __str__(self):
        return f"{self.reason} ({self.status})"


class RequestType(models.TextChoices):
    """The rights a person may exercise through the public form (GDPR Art. 15 to 21)."""

    ACCESS = "access", _("Access to my data")
    ERASURE = "erasure", _("Erasure of my data")
    RECTIFICATION = "rectification", _("Rectification of my data")
    OBJECTION = "objection", _("Objection to the processing")
    RESTRICTION = "restriction", _("Restriction of the processing")
    PORTABILITY = "portability", _("Portability of my data")


class RequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    IDENTITY_UNVERIFIED = "identity_unverified", _("Identity not verified yet")
    VERIFIED = "verified", _("Verified")
    AWAITING_CONTROLLER = "awaiting_controller", _("Awaiting the controller's decision")
    APPROVED = "approved", _("Approved")
    DENIED = "denied", _("Denied")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELED = "canceled", _("Canceled")
    ERROR = "error", _("Error")


# A request or copy in one of these states needs nothing more from anyone.
CLOSED_STATUSES = frozenset({RequestStatus.DENIED, RequestStatus.COMPLETED, RequestStatus.CANCELED})
# In these, someone has to act before the deadline (before verification, nobody can yet).
ACTIONABLE_STATUSES = frozenset({RequestStatus.VERIFIED, RequestStatus.AWAITING_CONTROLLER, RequestStatus.APPROVED,
                                 RequestStatus.IN_PROGRESS, RequestStatus.ERROR})


class RequestChannel(models.TextChoices):
    WEB = "web", _("Web form")
    PHONE = "phone", _("Telephone")
    POST = "post", _("Post")
    EMAIL = "email", _("E-mail")
    STAFF = "staff", _("CALLKOM staff")


def _no_reminders():
    return []


class RequestHandling(models.Model):
    """What a request and each routed copy of it have in common: a state, a deadline, a decision.

    The deadline is a date: one calendar month from receipt (GDPR Art. 12(3)), possibly extended once by up to two
    more months. ``reminders_sent`` holds one key per reminder (deadline and days before it), so the daily reminder
    job sends each reminder once, and again before a new deadline after an extension.
    """

    status = models.CharField(_("status"), max_length=24, choices=RequestStatus.choices)
    due_at = models.DateField(_("due date"))
    extended_due_at = models.DateField(_("extended due date"), null=True, blank=True)
    extension_reason = EncryptedTextField(_("reason for the extension"), blank=True, default="")
    extended_at = models.DateTimeField(_("extended"), null=True, blank=True)
    decision_reason = EncryptedTextField(_("reason for the decision"), blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    reminders_sent = models.JSONField(_("reminders sent"), default=_no_reminders, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def deadline(self):
        return self.extended_due_at or self.due_at

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.status in ACTIONABLE_STATUSES and self.deadline < timezone.localdate()

    @property
    def days_left(self) -> int:
        return (self.deadline - timezone.localdate()).days


class RightsRequest(RequestHandling):
    """A data-subject request as CALLKOM received it (platform-level: it belongs to no tenant).

    After verification it is routed: one :class:`RoutedRequest` per controller holding data about the person, or,
    when none does or the request is about CALLKOM's own processing, it stays with CALLKOM staff
    (``staff_handled``), who then decide on it here.
    """

    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    kind = models.CharField(_("type"), max_length=16, choices=RequestType.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=RequestChannel.choices,
                               default=RequestChannel.WEB)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    requester_name = EncryptedCharField(_("name"), max_length=200)
    requester_email = EncryptedEmailField(_("e-mail"), blank=True)
    requester_phone = EncryptedCharField(_("phone number called"), max_length=32, blank=True)
    phone_index = BlindIndexField()
    email_index = BlindIndexField()
    company_named = EncryptedCharField(_("company named by the requester"), max_length=200, blank=True)
    details = EncryptedTextField(_("details"), blank=True, default="")
    about_callkom = models.BooleanField(_("about CALLKOM's own processing"), default=False)
    staff_handled = models.BooleanField(_("handled by CALLKOM staff"), default=False)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    verified_at = models.DateTimeField(_("identity verified"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("rights request")
        verbose_name_plural = _("rights requests")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "due_at"], name="rightsrequest_status_due")]

    def __str__(self):
        return self.reference


class RoutedRequest(TenantOwned, RequestHandling):
    """The copy of a request in one controller's inbox: the controller's own state, deadline and decision.

    Tenant-owned, so that a controller sees its copies only; the requester's details stay on the parent request.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="routed_copies",
                                verbose_name=_("request"))
    matched_on = models.JSONField(_("matched on"), default=list, blank=True)
    routed_at = models.DateTimeField(_("forwarded"), default=timezone.now)

    class Meta:
        verbose_name = _("routed rights request")
        verbose_name_plural = _("routed rights requests")
        ordering = ["due_at", "routed_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "request"], name="routedrequest_unique_tenant")]
        indexes = [models.Index(fields=["tenant", "status", "due_at"], name="routedrequest_tenant_status")]

    def __str__(self):
        return f"{self.request.reference} ({self.tenant_id})"


class VerificationCode(models.Model):
    """A 6-digit code e-mailed to the requester to prove they control the address. Only its HMAC is stored."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        ordering = ["-created_at"]

    def __str__(self):
        return f"Code for request {self.request_id}"


class EventKind(models.TextChoices):
    TRANSITION = "transition", _("Status change")
    COMMENT = "comment", _("Comment")
    LETTER = "letter", _("Letter to the requester")
    EXTENSION = "extension", _("Deadline extended")
    NOTICE = "notice", _("Notice")
    FULFILMENT = "fulfilment", _("Carried out")


class RequestEventFields(models.Model):
    """One line of a request's timeline: who did what, when, with an optional note (encrypted: it may name people)."""

    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("who"))
    kind = models.CharField(_("what"), max_length=16, choices=EventKind.choices)
    from_status = models.CharField(_("from"), max_length=24, choices=RequestStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=24, choices=RequestStatus.choices, blank=True)
    note = EncryptedTextField(_("note"), blank=True, default="")

    class Meta:
        abstract = True
        ordering = ["at", "id"]


class RequestEvent(RequestEventFields):
    """The timeline of a request as CALLKOM handles it; seen by CALLKOM staff only."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="events")

    class Meta(RequestEventFields.Meta):
        verbose_name = _("request event")
        verbose_name_plural = _("request events")

    def __str__(self):
        return f"{self.kind} on request {self.request_id}"


class RoutedRequestEvent(TenantOwned, RequestEventFields):
    """The timeline of one controller's copy; seen by that controller and by CALLKOM staff."""

    routed = models.ForeignKey(RoutedRequest, on_delete=models.CASCADE, related_name="events")

    class Meta(RequestEventFields.Meta):
        verbose_name = _("routed request event")
        verbose_name_plural = _("routed request events")
        indexes = [models.Index(fields=["tenant", "routed", "at"], name="routedevent_tenant_routed")]

    def __str__(self):
        return f"{self.kind} on routed request {self.routed_id}"


# Fulfilment ------------------------------------------------------------------------------------------------------


class LegalHold(TenantOwned):
    """Data that must be kept and left alone: no call, no processing, no deletion by retention.

    A restriction request (GDPR Art. 18) creates one for the person; staff create others for an incident or a
    dispute. The person is named by blind indexes, as in the rest of the registry; an incident may hold calls
    instead. A hold is never deleted: it is released, and the release is recorded.
    """

    class Reason(models.TextChoices):
        RESTRICTION = "restriction", _("Restriction requested by the person")
        INCIDENT = "incident", _("Incident investigation")
        LITIGATION = "litigation", _("Litigation")

    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    phone_index = BlindIndexField()
    email_index = BlindIndexField()
    call_ids = models.JSONField(_("calls held"), default=list, blank=True)
    routed = models.ForeignKey(RoutedRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="holds",
                               verbose_name=_("rights request"))
    note = EncryptedTextField(_("note"), blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("placed by"))
    created_at = models.DateTimeField(_("placed"), default=timezone.now, editable=False)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("released by"))

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "phone_index"], name="legalhold_tenant_phone"),
            models.Index(fields=["tenant", "email_index"], name="legalhold_tenant_email"),
        ]

    def __str__(self):
        return f"{self.get_reason_display()} ({self.pk})"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class ExportFile(TenantOwned):
    """The data of an access or portability request, encrypted in the default storage, behind a download link.

    Only the SHA-256 of the link's token is stored: the link exists in the requester's mailbox only. The file is
    deleted when the link expires or has been used up; the row stays as the record of what was sent.
    """

    routed = models.ForeignKey(RoutedRequest, on_delete=models.PROTECT, related_name="exports",
                               verbose_name=_("rights request"))
    path = models.CharField(max_length=200)  # in the default storage; the file holds a Fernet token, not the data
    size_bytes = models.PositiveIntegerField(_("size (bytes)"), default=0)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("link expires"))
    download_count = models.PositiveSmallIntegerField(_("downloads"), default=0)
    downloaded_at = models.DateTimeField(_("last downloaded"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("file deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "routed"], name="exportfile_tenant_routed")]

    def __str__(self):
        return f"Export {self.pk} of routed request {self.routed_id}"


class ErasureLog(TenantOwned):
    """One line of the proof of an erasure: which data store, how many records deleted or anonymised, when."""

    routed = models.ForeignKey(RoutedRequest, on_delete=models.PROTECT, related_name="erasures",
                               verbose_name=_("rights request"))
    store = models.CharField(_("data store"), max_length=60)
    count = models.PositiveIntegerField(_("records"))
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("erasure log entry")
        verbose_name_plural = _("erasure log")
        ordering = ["at", "store"]
        indexes = [models.Index(fields=["tenant", "routed"], name="erasurelog_tenant_routed")]

    def __str__(self):
        return f"{self.store}: {self.count}"


# --- retention (issue 6 §2) ----------------------------------------------------------------------------------------


class RetentionCategory(models.TextChoices):
    """What retention deletes, each with its own period in the tenant's settings."""

    RECORDINGS = "recordings", _("Recordings")
    TRANSCRIPTS = "transcripts", _("Transcripts")
    REPORTS = "reports", _("Reports")
    AI_PAYLOADS = "ai_payloads", _("AI request payloads")
    AI_METADATA = "ai_metadata", _("AI request metadata")
    RIGHTS_FILES = "rights_files", _("Rights-request files")
    TECHNICAL_LOGS = "technical_logs", _("Technical logs")


def _no_counts():
    return {}


class RetentionRun(TenantOwned):
    """One pass of retention over one tenant: the cut-off date of each category, fixed when the run starts so that a
    run resumed after a crash deletes exactly what it would have deleted, and what was deleted, per category."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Daily schedule")
        COMMAND = "command", _("Command")
        STAFF = "staff", _("CALLKOM staff")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(_("started by"), max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    cutoffs = models.JSONField(_("cut-off dates"), default=_no_counts)  # category -> ISO datetime
    counts = models.JSONField(_("deleted"), default=_no_counts)  # category -> rows deleted or blanked
    held = models.JSONField(_("kept under a legal hold"), default=_no_counts)  # category -> rows left alone
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "-started_at"], name="retentionrun_tenant_started"),
                   models.Index(fields=["status"], name="retentionrun_status")]

    def __str__(self):
        return f"Retention run {self.pk} ({self.status})"


# --- AI incidents (issue 6 §3) -------------------------------------------------------------------------------------


class Incident(models.Model):
    """An AI incident, across tenants: what happened, how bad, whom it touched, and what was done about it.

    A personal-data breach starts the clock of GDPR Art. 33: the controllers are told without undue delay, so that
    they can notify their authority within 72 hours of becoming aware.
    """

    class Category(models.TextChoices):
        OFFENSIVE_REPLY = "offensive_reply", _("Offensive reply")
        CROSS_CALL_DISCLOSURE = "cross_call_disclosure", _("Disclosure of another call's data")
        WRONG_INFORMATION = "wrong_information", _("Wrong information")
        OUTAGE = "outage", _("Outage")
        SECURITY = "security", _("Security")

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        INVESTIGATING = "investigating", _("Investigating")
        CONTAINED = "contained", _("Contained")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(_("category"), max_length=24, choices=Category.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    detected_at = models.DateTimeField(_("detected"), default=timezone.now)
    description = EncryptedTextField(_("what happened"), blank=True, default="")
    personal_data_breach = models.BooleanField(_("personal-data breach"), default=False)
    breach_aware_at = models.DateTimeField(
        _("breach known since"), null=True, blank=True,
        help_text=_("When CALLKOM became aware of the breach: the 72-hour clock of GDPR Art. 33 starts here."),
    )
    corrective_actions = EncryptedTextField(_("corrective actions"), blank=True, default="")
    closure_note = EncryptedTextField(_("closure"), blank=True, default="")
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("AI incident")
        verbose_name_plural = _("AI incidents")
        ordering = ["-detected_at"]

    def __str__(self):
        return f"{self.reference} {self.title}"


class IncidentImpact(TenantOwned):
    """One tenant touched by an incident: which of its calls, the notice it was given, and when."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="impacts")
    call_ids = models.JSONField(_("calls affected"), default=list, blank=True)
    notice = models.TextField(_("notice to the customer"), blank=True)
    notified_at = models.DateTimeField(_("customer told"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("seen by the customer"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                        blank=True, related_name="+")

    class Meta:
        verbose_name = _("incident impact")
        verbose_name_plural = _("incident impacts")
        constraints = [models.UniqueConstraint(fields=["incident", "tenant"], name="incidentimpact_unique")]

    def __str__(self):
        return f"{self.incident_id} for tenant {self.tenant_id}"


class PublishedDocument(models.Model):
    """A versioned public document: a draft is edited, then published once and never changed again."""

    number = models.PositiveIntegerField(_("version"), unique=True)
    title = models.CharField(_("title"), max_length=200)
    title_fr = models.CharField(_("title (French)"), max_length=200, blank=True)
    body = models.TextField(_("text"), help_text=_("In English; paragraphs separated by blank lines."))
    body_fr = models.TextField(_("text (French)"), blank=True)
    changes = models.TextField(_("what changed"), blank=True)
    changes_fr = models.TextField(_("what changed (French)"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    published_at = models.DateTimeField(_("published"), null=True, blank=True, editable=False)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", editable=False, verbose_name=_("published by"))

    class Meta:
        abstract = True
        ordering = ["-number"]

    def __str__(self):
        return f"{self.title} v{self.number}"

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def localised(self, name: str) -> str:
        from django.utils import translation

        if (translation.get_language() or "en").startswith("fr") and getattr(self, f"{name}_fr", ""):
            return getattr(self, f"{name}_fr")
        return getattr(self, name)


class DpaVersion(PublishedDocument):
    """A version of CALLKOM's data processing agreement template (GDPR Art. 28), accepted by each customer."""

    class Meta(PublishedDocument.Meta):
        verbose_name = _("DPA version")
        verbose_name_plural = _("DPA versions")


class DpaAcceptance(TenantOwned):
    """Who accepted which DPA version for the customer, when, from where, with the list version then in force."""

    version = models.ForeignKey(DpaVersion, on_delete=models.PROTECT, related_name="acceptances",
                                verbose_name=_("DPA version"))
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                    related_name="+", verbose_name=_("accepted by"))
    accepted_by_email = models.EmailField(_("accepted by (e-mail at the time)"))
    accepted_at = models.DateTimeField(_("accepted"), default=timezone.now)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    register_version = models.PositiveIntegerField(_("subprocessor list version"), null=True, blank=True)

    class Meta:
        verbose_name = _("DPA acceptance")
        verbose_name_plural = _("DPA acceptances")
        ordering = ["-accepted_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="dpa_accepted_once")]

    def __str__(self):
        return f"{self.tenant_id} v{self.version_id}"


class AiPolicyVersion(PublishedDocument):
    """A version of the public AI policy; a substantial change is mailed to every customer."""

    class Substantial(models.TextChoices):
        NEW_PURPOSE = "new_purpose", _("New purpose")
        PROVIDER_OUTSIDE_EU = "provider_outside_eu", _("New provider outside the EU")
        OTHER = "other", _("Other substantial change")

    substantial = models.CharField(_("substantial change"), max_length=24, choices=Substantial.choices,
                                   blank=True, help_text=_("Leave empty for an editorial change."))

    class Meta(PublishedDocument.Meta):
        verbose_name = _("AI policy version")
        verbose_name_plural = _("AI policy versions")
