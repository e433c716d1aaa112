import datetime
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models.fields.related_descriptors import ReverseOneToOneDescriptor
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .crypto import EncryptedCharField, EncryptedEmailField
from .roles import Role
from .scope import TenantManager


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in: customer staff (through memberships) or CALLKOM staff (is_staff)."""

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="fr")

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.email


class Tenant(models.Model):
    """A business customer of CALLKOM: the data controller of its calls."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    class RegionPolicy(models.TextChoices):
        EU_ONLY = "eu_only", _("EU only")
        ANY = "any", _("Any region (with transfer safeguards)")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    legal_name = models.CharField(_("legal name"), max_length=200)
    country = models.CharField(
        _("country"),
        max_length=2,
        default="FR",
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use the two-letter ISO country code, e.g. FR."))],
    )
    # The DPO is a person: their contact details are personal data, encrypted like the rest.
    dpo_name = EncryptedCharField(_("DPO name"), max_length=120, blank=True)
    dpo_email = EncryptedEmailField(_("DPO e-mail"), blank=True)
    dpo_phone = EncryptedCharField(_("DPO phone"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    region_policy = models.CharField(
        _("region policy"), max_length=16, choices=RegionPolicy.choices, default=RegionPolicy.EU_ONLY
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Save; a new tenant gets its settings row (with the defaults) in the same transaction."""
        adding = self._state.adding
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if adding:
                TenantSettings._base_manager.get_or_create(tenant=self)

    def get_additional_data(self):
        return {"tenant": self.pk}

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class TenantOwned(models.Model):
    """Abstract base of every row that belongs to one tenant; queries fail outside a tenant scope."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))

    objects = TenantManager()

    class Meta:
        abstract = True

    def get_additional_data(self):
        return {"tenant": self.tenant_id}


class LegalBasis(models.TextChoices):
    """The six lawful bases of GDPR Art. 6(1)."""

    CONSENT = "consent", _("Consent (Art. 6(1)(a))")
    CONTRACT = "contract", _("Contract (Art. 6(1)(b))")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation (Art. 6(1)(c))")
    VITAL_INTERESTS = "vital_interests", _("Vital interests (Art. 6(1)(d))")
    PUBLIC_TASK = "public_task", _("Public task (Art. 6(1)(e))")
    LEGITIMATE_INTERESTS = "legitimate_interests", _("Legitimate interests (Art. 6(1)(f))")


def _ten_am():
    return datetime.time(10, 0)


def _eight_pm():
    return datetime.time(20, 0)


def _weekdays():
    return [0, 1, 2, 3, 4]


def _no_fields():
    return []


def retention_validators(ceiling: int) -> list:
    return [MinValueValidator(1), MaxValueValidator(ceiling)]


class _SettingsAccessor(ReverseOneToOneDescriptor):
    """``tenant.settings``, created with its defaults when a tenant was inserted without it (a data migration's
    historical model or a bulk insert run no ``Tenant.save()``): a missing row is never an error page."""

    def __get__(self, instance, cls=None):
        try:
            return super().__get__(instance, cls)
        except self.RelatedObjectDoesNotExist:
            if instance is None or instance.pk is None:
                raise
            row, _created = self.related.related_model._base_manager.get_or_create(tenant=instance)
            self.related.set_cached_value(instance, row)
            return row


class SettingsOneToOneField(models.OneToOneField):
    """The one-to-one from a tenant's settings to the tenant, whose reverse accessor never comes back empty."""

    related_accessor_class = _SettingsAccessor


class TenantSettings(TenantOwned):
    """What the customer, as controller, decides about its calls."""

    # The fields of a contact or call context that a tenant may keep away from every AI provider.
    AI_EXCLUDABLE_FIELDS = [
        ("name", _("Name")),
        ("phone", _("Phone number")),
        ("email", _("E-mail address")),
        ("company", _("Company")),
        ("custom_fields", _("Custom fields")),
        ("notes", _("Notes")),
    ]

    tenant = SettingsOneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="settings", verbose_name=_("tenant")
    )
    recording_enabled = models.BooleanField(_("record calls"), default=False)
    # Platform defaults and ceilings follow the CNIL's guidance on call recording: recordings at most six months,
    # documents drawn from a call (transcripts, reports) at most one year. A legal hold keeps data past them.
    retention_recordings_days = models.PositiveIntegerField(
        _("keep recordings (days)"), default=180, validators=retention_validators(180)
    )
    retention_transcripts_days = models.PositiveIntegerField(
        _("keep transcripts (days)"), default=365, validators=retention_validators(365)
    )
    retention_reports_days = models.PositiveIntegerField(
        _("keep reports (days)"), default=365, validators=retention_validators(365)
    )
    retention_ai_payloads_days = models.PositiveIntegerField(
        _("keep AI request payloads (days)"), default=30, validators=retention_validators(365)
    )
    retention_ai_metadata_days = models.PositiveIntegerField(
        _("keep AI request metadata (days)"), default=365, validators=retention_validators(1825)
    )
    retention_rights_files_days = models.PositiveIntegerField(
        _("keep closed rights-request files (days)"), default=1825, validators=retention_validators(1825),
        help_text=_("Proof that each request was handled, kept for the limitation period (5 years)."),
    )
    retention_technical_logs_days = models.PositiveIntegerField(
        _("keep technical logs (days)"), default=180, validators=retention_validators(365),
        help_text=_("Webhook deliveries, dialer decisions, import reports."),
    )
    human_transfer_number = models.CharField(
        _("human transfer number"),
        max_length=20,
        blank=True,
        help_text=_("E.164 number to which a caller is transferred on request, e.g. +33123456789."),
    )
    ai_excluded_fields = models.JSONField(
        _("fields never sent to an AI"), default=_no_fields, blank=True
    )
    log_ai_request_payloads = models.BooleanField(
        _("keep the exact AI requests (encrypted)"),
        default=False,
        help_text=_("Store each request as sent to an AI provider, encrypted, for audits."),
    )
    default_legal_basis = models.CharField(
        _("default legal basis"),
        max_length=32,
        choices=LegalBasis.choices,
        default=LegalBasis.LEGITIMATE_INTERESTS,
    )
    # Callables, not fixed values: Django's check warns about a fixed time default near the current hour.
    calling_window_start = models.TimeField(_("calls from"), default=_ten_am)
    calling_window_end = models.TimeField(_("calls until"), default=_eight_pm)
    calling_days = models.JSONField(_("calling days"), default=_weekdays)
    calling_timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    sip_outbound_trunk_id = models.CharField(
        _("outbound SIP trunk"), max_length=64, blank=True,
        help_text=_("LiveKit SIP trunk ID used to place this company's outbound calls."),
    )

    class Meta:
        verbose_name = _("tenant settings")
        verbose_name_plural = _("tenant settings")

    def __str__(self):
        return f"Settings of tenant {self.tenant_id}"


class Membership(TenantOwned):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=24, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]
        ordering = ["user__email"]

    def __str__(self):
        return f"{self.user_id} in tenant {self.tenant_id} as {self.role}"


class ApiScope(models.TextChoices):
    CALLS_READ = "calls:read", _("Read calls")
    CALLS_WRITE = "calls:write", _("Start and end calls")
    CONTACTS_READ = "contacts:read", _("Read contacts")
    CONTACTS_WRITE = "contacts:write", _("Write contacts")
    REPORTS_READ = "reports:read", _("Read reports")
    RIGHTS_READ = "rights:read", _("Read rights requests")
    RIGHTS_WRITE = "rights:write", _("Decide rights requests")
    WEBHOOKS_WRITE = "webhooks:write", _("Manage webhooks")
    AUDIT_READ = "audit:read", _("Read the AI request log")
    SCRIPTS_WRITE = "scripts:write", _("Write scripts")


class ApiKey(TenantOwned):
    """A partner's key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apikey_tenant_created")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def is_expired(self, now=None):
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class StaffAccess(models.Model):
    """One view of tenant data by CALLKOM staff in the admin; shown to the tenant too."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    staff_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16)
    model = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=300)

    class Meta:
        verbose_name = _("staff access")
        verbose_name_plural = _("staff accesses")
        ordering = ["-at"]
        indexes = [models.Index(fields=["tenant", "-at"], name="staffaccess_tenant_at")]

    def __str__(self):
        return f"{self.staff_user_id} {self.action} {self.model} {self.object_id}"


class IdempotencyRecord(TenantOwned):
    """The first answer to a POST sent with an ``Idempotency-Key``, replayed for 24 hours to retries of it."""

    TTL = datetime.timedelta(hours=24)

    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the method, path and body
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_once")]

    def __str__(self):
        return f"{self.tenant_id}:{self.key}"
