"""Outbound calling at scale: contact lists and their entries, imports, risk findings, campaigns, their targets and
the dialer's skips. The tables were created by the calls app and kept their names when the models moved here."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models import Call, Contact, Script
from tenants.models import LegalBasis, TenantOwned


class ContactList(TenantOwned):
    """A list of people the customer wants called. A campaign may use it once every risk finding is fixed or
    acknowledged, and only with a legal basis."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=32, choices=LegalBasis.choices, blank=True)
    consent_proof = models.CharField(
        _("consent proof reference"), max_length=200, blank=True,
        help_text=_("Where the proof of each person's consent is kept (required when the basis is consent)."),
    )
    contacts = models.ManyToManyField(Contact, through="ContactListEntry", related_name="lists")
    risk_checked_at = models.DateTimeField(_("risks checked"), null=True, blank=True)
    created_by = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        db_table = "calls_contactlist"
        verbose_name = _("contact list")
        verbose_name_plural = _("contact lists")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="contactlist_unique_name")]

    def __str__(self):
        return self.name


class ContactListEntry(TenantOwned):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="entries")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="list_entries")
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "calls_contactlistentry"
        verbose_name = _("contact list entry")
        verbose_name_plural = _("contact list entries")
        constraints = [models.UniqueConstraint(fields=["contact_list", "contact"], name="contactlistentry_unique")]
        indexes = [models.Index(fields=["tenant", "contact_list", "id"], name="listentry_tenant_list")]

    def __str__(self):
        return f"Contact {self.contact_id} in list {self.contact_list_id}"


class ContactImport(TenantOwned):
    """One uploaded file (CSV or XLSX) imported into a list by a Celery task, with its progress and errors."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for the column mapping")
        QUEUED = "queued", _("Queued")
        VALIDATING = "validating", _("Checking the rows")
        NEEDS_DECISION = "needs_decision", _("Errors found: nothing imported")
        IMPORTING = "importing", _("Importing")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="imports",
                                     verbose_name=_("contact list"))
    file_name = models.CharField(_("file name"), max_length=200)
    file_format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    path = models.CharField(max_length=200, blank=True)  # encrypted upload in the default storage; removed after
    headers = models.JSONField(_("columns"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)  # column header -> contact field
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    import_valid_rows = models.BooleanField(_("import the valid rows despite errors"), default=False)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    imported_rows = models.PositiveIntegerField(_("rows imported"), default=0)
    duplicate_rows = models.PositiveIntegerField(_("duplicates"), default=0)
    invalid_rows = models.PositiveIntegerField(_("invalid rows"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)  # [{"row", "column", "message"}], capped
    failure = models.CharField(_("failure"), max_length=300, blank=True)
    created_by = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        db_table = "calls_contactimport"
        verbose_name = _("contact import")
        verbose_name_plural = _("contact imports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="contactimport_tenant_created")]

    def __str__(self):
        return f"Import {self.file_name}"


class RiskFinding(TenantOwned):
    """Something in a contact list that the AI policy asks the customer to fix or to account for before calling."""

    class Kind(models.TextChoices):
        DO_NOT_CALL = "do_not_call", _("Numbers on the do-not-call list")
        OBJECTION = "objection", _("Numbers of people who objected")
        SPECIAL_CATEGORY = "special_category", _("Column with special-category data")
        UNNEEDED_DATA = "unneeded_data", _("Column with data a call does not need")
        NO_LEGAL_BASIS = "no_legal_basis", _("No legal basis")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        FIXED = "fixed", _("Fixed")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")

    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    column = models.CharField(_("column"), max_length=120, blank=True)
    affected = models.PositiveIntegerField(_("contacts affected"), default=0)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    acknowledgement = models.TextField(_("acknowledgement"), blank=True)
    resolved_by = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "calls_riskfinding"
        verbose_name = _("risk finding")
        verbose_name_plural = _("risk findings")
        ordering = ["contact_list", "kind", "column"]

    def __str__(self):
        return f"{self.kind} in list {self.contact_list_id}"


def _default_calling_days():
    return [0, 1, 2, 3, 4]  # Monday to Friday (Consumer Code D.223-9)


def _default_windows():
    return [["10:00", "13:00"], ["14:00", "20:00"]]


class Campaign(TenantOwned):
    """Calls a contact list with a script, within calling rules, at most ``max_concurrent_calls`` at a time."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELED = "canceled", _("Canceled")

    class Audience(models.TextChoices):
        CONSUMERS = "consumers", _("Consumers (canvassing)")
        BUSINESSES = "businesses", _("Businesses")

    name = models.CharField(_("name"), max_length=120)
    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="+", verbose_name=_("script"))
    contact_list = models.ForeignKey(ContactList, on_delete=models.PROTECT, related_name="campaigns",
                                     verbose_name=_("contact list"))
    legal_basis = models.CharField(_("legal basis"), max_length=32, choices=LegalBasis.choices)
    consent_proof = models.CharField(_("consent proof reference"), max_length=200, blank=True)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices, default=Audience.CONSUMERS)
    ongoing_contract = models.BooleanField(
        _("about an ongoing contract"), default=False,
        help_text=_("Calls about a contract in progress with the person need no prior consent to canvassing."),
    )
    # Calling rules; the defaults are France's consumer canvassing rules (Consumer Code D.223-9 and L.223-1).
    calling_days = models.JSONField(_("calling days"), default=_default_calling_days)
    calling_windows = models.JSONField(_("calling windows"), default=_default_windows)
    skip_public_holidays = models.BooleanField(_("not on public holidays"), default=True)
    default_timezone = models.CharField(_("time zone when the number does not tell"), max_length=64,
                                        default="Europe/Paris")
    max_attempts = models.PositiveSmallIntegerField(_("attempts per number"), default=4,
                                                    validators=[MinValueValidator(1), MaxValueValidator(20)])
    attempts_period_days = models.PositiveSmallIntegerField(_("over this many days"), default=30,
                                                            validators=[MinValueValidator(1)])
    refusal_cooldown_days = models.PositiveSmallIntegerField(_("no new call after a refusal for (days)"),
                                                             default=60)
    retry_delay_minutes = models.PositiveIntegerField(_("retry after no answer (minutes)"), default=240,
                                                      validators=[MinValueValidator(5)])
    max_concurrent_calls = models.PositiveSmallIntegerField(_("calls at the same time"), default=2,
                                                            validators=[MinValueValidator(1),
                                                                        MaxValueValidator(100)])
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        db_table = "calls_campaign"
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="campaign_unique_name")]
        indexes = [models.Index(fields=["status"], name="campaign_status")]

    def __str__(self):
        return self.name


class CampaignTarget(TenantOwned):
    """One contact of a campaign: how often it was tried and when it may be tried next."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To call")
        CALLING = "calling", _("Call in progress")
        DONE = "done", _("Reached")
        EXCLUDED = "excluded", _("Excluded")  # do-not-call, objection, invalid number: never called
        EXHAUSTED = "exhausted", _("Attempts used up")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_call = models.ForeignKey(Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_skip_reason = models.CharField(_("last skip reason"), max_length=32, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "calls_campaigntarget"
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"], name="campaigntarget_unique")]
        indexes = [models.Index(fields=["tenant", "campaign", "status", "next_attempt_at"],
                                name="target_due")]

    def __str__(self):
        return f"Contact {self.contact_id} in campaign {self.campaign_id}"


class DialerSkip(TenantOwned):
    """Why the dialer did not call a contact when it considered it: every skip is recorded with its reason."""

    class Reason(models.TextChoices):
        OUTSIDE_WINDOW = "outside_window", _("Outside the calling hours")
        NOT_A_CALLING_DAY = "not_a_calling_day", _("Not a calling day")
        PUBLIC_HOLIDAY = "public_holiday", _("Public holiday")
        DO_NOT_CALL = "do_not_call", _("On the do-not-call list")
        PLATFORM_DO_NOT_CALL = "platform_do_not_call", _("Objects to every CALLKOM call")
        RESTRICTED = "restricted", _("Processing restricted (legal hold)")
        ATTEMPT_CAP = "attempt_cap", _("Attempt limit reached")
        REFUSAL_COOLDOWN = "refusal_cooldown", _("Refused recently")
        NO_CONSENT = "no_consent", _("No prior consent to canvassing")
        INVALID_NUMBER = "invalid_number", _("Number not valid")
        CALL_FAILED = "call_failed", _("The call could not be placed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="skips")
    target = models.ForeignKey(CampaignTarget, on_delete=models.CASCADE, related_name="skips")
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    retry_at = models.DateTimeField(_("may be tried again"), null=True, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        db_table = "calls_dialerskip"
        verbose_name = _("dialer skip")
        verbose_name_plural = _("dialer skips")
        ordering = ["-at"]
        indexes = [models.Index(fields=["tenant", "campaign", "-at"], name="skip_tenant_campaign")]

    def __str__(self):
        return f"{self.reason} for target {self.target_id}"
