"""CALLKOM settings: one module, read from the environment only.

Nothing set means the embedded default (SQLite, in-memory channel layer, a filesystem Celery broker, console
e-mail). ``DEBUG=0`` means production: every secret must then be given, or start-up stops with a message.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CALLKOM_VAR_DIR", BASE_DIR / "var"))


def env(name, default=None):
    """Return the variable, or the content of the file named by NAME_FILE (for mounted secrets)."""
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return default


def envbool(name, default):
    value = env(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}.")


def envint(name, default):
    value = env(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None


def envlist(name, default=()):
    value = env(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = envbool("DEBUG", True)

# Development-only values. They are refused in production (DEBUG off), where each must come from the environment.
_DEV_SECRETS = {
    "SECRET_KEY": "dev-only-secret-key-never-use-in-production-3c1f8a0e7b5d",
    "FIELD_ENCRYPTION_KEY": "ZGV2LW9ubHktZmllbGQta2V5LW5ldmVyLWluLXByb2Q=",
    "BLIND_INDEX_KEY": "dev-only-blind-index-key-never-use-in-production",
}
_missing = [name for name in (*_DEV_SECRETS, "ALLOWED_HOSTS") if not env(name)]
if not DEBUG and _missing:
    raise ImproperlyConfigured(
        "Production settings (DEBUG off) need these environment variables: " + ", ".join(_missing) + "."
    )

SECRET_KEY = env("SECRET_KEY") or _DEV_SECRETS["SECRET_KEY"]
# A comma-separated list: the first key encrypts, every key decrypts (rotation).
FIELD_ENCRYPTION_KEY = envlist("FIELD_ENCRYPTION_KEY") or [_DEV_SECRETS["FIELD_ENCRYPTION_KEY"]]
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY") or _DEV_SECRETS["BLIND_INDEX_KEY"]
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "auditlog",
    "encrypted_model_fields",
    "callkom",
    "tenants",
    "webhooks",
    "subprocessors",
    "compliance",
    "calls",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.api_support.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "callkom.urls"
WSGI_APPLICATION = "callkom.wsgi.application"
ASGI_APPLICATION = "callkom.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.portal",
                "compliance.context_processors.incident_notices",
            ],
        },
    },
]

# Database: SQLite file by default, DATABASE_URL for anything else (postgres://user@host:5432/name).
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    # No persistent connections by default: under ASGI each request runs in its own thread, and kept connections
    # pile up until PostgreSQL refuses new ones (measured in bench/api_load.py). Put a pooler in front to reuse them.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0))}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Web, worker and beat share the file: wait for locks instead of failing, and let readers run.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory: browser tests run the ASGI server in a child process that must see the data.
            # One per process, so that two test runs on one machine do not share it.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "callkom",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, which aborts the layer's blocking BZPOPMIN and
            # tears down every idle WebSocket consumer (django/channels_redis#422): no timeout on these reads.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "prefix": "callkom"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "callkom"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: Redis when REDIS_URL is set; otherwise kombu's filesystem transport, which needs no server yet lets
# worker and beat run as separate processes sharing one folder.
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_FOLDER = VAR_DIR / "celery" / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # The control folder holds the broadcast exchanges (remote control, events); kombu's default is ./control.
    {"data_folder_in": str(CELERY_BROKER_FOLDER), "data_folder_out": str(CELERY_BROKER_FOLDER),
     "control_folder": str(VAR_DIR / "celery" / "control")}
    if CELERY_BROKER_URL == "filesystem://"
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def _email_settings(url):
    """Translate EMAIL_URL (smtp://user:pass@host:587?tls=1, console://, locmem://) into Django settings."""
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urlparse(url)
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtps": "django.core.mail.backends.smtp.EmailBackend",
    }
    if parsed.scheme not in backends:
        raise ImproperlyConfigured(f"EMAIL_URL scheme must be one of {', '.join(backends)}, not {parsed.scheme!r}.")
    query = parse_qs(parsed.query)
    return {
        "EMAIL_BACKEND": backends[parsed.scheme],
        "EMAIL_HOST": parsed.hostname or "localhost",
        "EMAIL_PORT": parsed.port or (465 if parsed.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_SSL": parsed.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls", ["0"])[0] in ("1", "true"),
    }


globals().update(_email_settings(env("EMAIL_URL")))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "CALLKOM <no-reply@callkom.io>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PRIVACY_CONTACT_EMAIL = env("PRIVACY_CONTACT_EMAIL", "privacy@callkom.io")
# A change to the list of subprocessors is announced at least this many days before it takes effect (the DPA's
# prior-notice period); customers may object in between.
SUBPROCESSOR_NOTICE_DAYS = int(env("SUBPROCESSOR_NOTICE_DAYS", "30"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal-home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.authentication.HasTenantApiKey"],
    "DEFAULT_SCHEMA_CLASS": "tenants.schema.ApiSchema",
    "DEFAULT_THROTTLE_CLASSES": ["tenants.api_support.ApiKeyThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api_support.Cursor",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "tenants.api_support.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 50,
}
# Requests per API key (anonymous callers of the public endpoints: per address), as "N/period" (s, m, h, d).
API_RATE_LIMIT = env("API_RATE_LIMIT", "600/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "CALLKOM API",
    "DESCRIPTION": (
        "Partner API of the CALLKOM AI telephone agent platform. Authenticate with a tenant API key "
        "(`Authorization: Api-Key <key>`); each endpoint names the scopes it needs. Errors are RFC 9457 problem "
        "details (`application/problem+json`). Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and "
        "`RateLimit-Reset`; POSTs that start a call or an import accept an `Idempotency-Key`. Lists use cursor "
        "pagination: follow `next`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "DEFAULT_GENERATOR_CLASS": "tenants.schema.ApiSchemaGenerator",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served by this site: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Names of the enums used by several serializers, so each appears once in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "RightsRequestStatusEnum": "compliance.api_rights.ROUTED_STATUSES",
        "RequestStatusEnum": "compliance.models.RequestStatus",
        "RequestTypeEnum": "compliance.models.RequestType",
    },
}

# Production hardening, on whenever DEBUG is off. A TLS-terminating proxy sets X-Forwarded-Proto.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# AI providers and telephony. Unset means the local engines (and no LiveKit): the product runs with no account.
MISTRAL_API_KEY = env("MISTRAL_API_KEY", "")
MISTRAL_SERVER_URL = env("MISTRAL_SERVER_URL", "")
MISTRAL_MODEL = env("MISTRAL_MODEL", "mistral-small-latest")
GOOGLE_APPLICATION_CREDENTIALS = env("GOOGLE_APPLICATION_CREDENTIALS", "")
GOOGLE_CLOUD_PROJECT = env("GOOGLE_CLOUD_PROJECT", "")
GOOGLE_LOCATION = env("GOOGLE_LOCATION", "eu")
LIVEKIT_URL = env("LIVEKIT_URL", "")
LIVEKIT_API_KEY = env("LIVEKIT_API_KEY", "")
LIVEKIT_API_SECRET = env("LIVEKIT_API_SECRET", "")
# How long the bridge waits in a room for the caller to answer before it gives up (seconds).
LIVEKIT_BRIDGE_CALLER_WAIT_S = envint("LIVEKIT_BRIDGE_CALLER_WAIT_S", 90)
# Which engines live calls use: auto (vendors when configured, then local), local, or bench (fakes with the
# benchmark's standard latencies, for load tests of a running server).
PIPELINE_PROVIDERS = env("CALLKOM_PIPELINE_PROVIDERS", "auto")
# Budgets for a provider's first output before the chain moves on to the next provider (seconds).
PIPELINE_FIRST_OUTPUT_TIMEOUT_S = {"stt": 5.0, "llm": 4.0, "tts": 3.0}

# Product settings.
CALLKOM_REQUIRE_SERVICES = envbool("CALLKOM_REQUIRE_SERVICES", False)
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60
# The portal's public address, for links in webhooks and e-mails (no trailing slash).
CALLKOM_PUBLIC_URL = env("CALLKOM_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Outgoing webhooks go to https:// URLs on public addresses only; these open the door for development and tests.
WEBHOOKS_ALLOW_INSECURE = envbool("WEBHOOKS_ALLOW_INSECURE", False)
WEBHOOKS_ALLOW_PRIVATE = envbool("WEBHOOKS_ALLOW_PRIVATE", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
