"""Switchboard settings: the one place that reads the environment.

Development (DEBUG on) runs with no configuration at all: SQLite in WAL mode, an embedded
file-system broker, and secrets generated once under `var/`. Production (DEBUG off)
refuses to start until SECRET_KEY, FIELD_ENCRYPTION_KEY and ALLOWED_HOSTS are set.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import dev_secrets, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SWITCHBOARD_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", default=False)

# --- Secrets -------------------------------------------------------------------------
SECRET_KEY = env_str("SECRET_KEY")
# One or more Fernet keys, comma-separated: the first encrypts, all of them decrypt, so a
# key can be rotated by putting the new one first (see tenants.fields).
FIELD_ENCRYPTION_KEY = env_list("FIELD_ENCRYPTION_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

if DEBUG:
    _generated = dev_secrets(VAR_DIR)
    SECRET_KEY = SECRET_KEY or _generated["SECRET_KEY"]
    FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or [_generated["FIELD_ENCRYPTION_KEY"]]
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]", "testserver"]
else:
    _missing = [
        name
        for name, value in (
            ("SECRET_KEY", SECRET_KEY),
            ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY),
            ("ALLOWED_HOSTS", ALLOWED_HOSTS),
        )
        if not value
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"DEBUG is off and {', '.join(_missing)} is not set. Production refuses to "
            "start without its secrets; set them in the environment (or DEBUG=1 for "
            "development)."
        )

# --- Applications --------------------------------------------------------------------
INSTALLED_APPS = [
    # django.contrib.admin, with the operations dashboard on its index (config/admin.py)
    "config.apps.SwitchboardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served by us: the docs work offline
    "django_celery_beat",
    "django_celery_results",
    # Ours, in import order: each may import only the ones above it.
    "tenants",
    "outbox",
    "conversations",
    "templates",
    "messaging",
    "webhooks",
    "campaigns",
    "reconciliation",
    "integrations",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before the rest: what they or Django answer under /api/ is in the house format.
    "tenants.api.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'switchboard.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE takes the
        # write lock at BEGIN so concurrent writers wait (timeout) instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so that worker processes started by tests see the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Django prepares nothing, for the sake of connection poolers. The statements that
    # bind server-side (tenants.db.fetchone_prepared: the webhook INSERT) are prepared
    # from their fifth run on a connection; 0 turns that off, for a pooler in
    # transaction mode that cannot keep prepared statements (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        env_int("DATABASE_PREPARE_THRESHOLD", 5) or None
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache ---------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
BROKER_DIR = VAR_DIR / "broker"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "switchboard"),
        }
    }
else:
    CACHES = {
        "default": {
            # Shared between the web, worker and beat processes, unlike local memory.
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# The outbox's "events recorded" notice (outbox/notify.py), which wakes the live stream
# (integrations/stream.py) at once; without it the stream polls the outbox every second.
OUTBOX_NOTIFY_URL = env_str("OUTBOX_NOTIFY_URL") or REDIS_URL

# --- Celery (see config/celery.py for queues and routing) ----------------------------
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task runs, so Redis never hands a running task to a second
        # worker; retries are scheduled in the database, never with long countdowns.
        "visibility_timeout": 3600,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
else:
    # The embedded broker: queues are files under var/broker, shared by the web, worker
    # and beat processes of one machine. For development only.
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Kombu's default is ./control, which would litter the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
# No result_expires: with it, beat re-creates its own cleanup entry at every start and
# overwrites an operator's edits. Our own scheduled purge keeps results this long.
CELERY_RESULT_EXPIRES = None
TASK_RESULT_RETENTION_DAYS = env_int("TASK_RESULT_RETENTION_DAYS", 7)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's Django fixup otherwise closes the database connection around every task, so
# each task paid for a new PostgreSQL connection (bench/apply.py: 47 -> see README).
# Before each task config.celery retires a connection that is dead or older than
# CONN_MAX_AGE (Django does that only around requests).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 500)
CELERY_TIMEZONE = "UTC"
# Hard time limit, in seconds, per task family (config.celery.TimeLimits); the soft
# limit is 80% of it. All below the broker's visibility timeout (3600 s), so Redis never
# hands a running task to a second worker.
TASK_TIME_LIMITS = {
    "webhooks": env_int("TASK_TIME_LIMIT_WEBHOOKS", 120),  # a few batches of events
    "sweeps": env_int("TASK_TIME_LIMIT_SWEEPS", 60),  # every minute
    "outbound": env_int("TASK_TIME_LIMIT_OUTBOUND", 120),  # a send: HTTP timeouts of 15 s
    "reconciliation": env_int("TASK_TIME_LIMIT_RECONCILIATION", 3000),  # resumable runs
    "default": env_int("TASK_TIME_LIMIT_DEFAULT", 900),  # syncs, purges, checks
}

# A send task sends its own message and up to this many minus one other queued
# messages of the same channel, recorded in one transaction (messaging.delivery);
# 1 sends one message a task.
SEND_BATCH_SIZE = env_int("SEND_BATCH_SIZE", 16)

# --- Auth, i18n, static --------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    # A member's role in their organizations as admin permissions (config/permissions.py).
    "config.permissions.MembershipPermissions",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Public URL, used to show providers where to send webhooks ------------------------
# Behind a TLS-terminating proxy, set USE_X_FORWARDED_PROTO so that signature checks
# that include the URL (Twilio) see the scheme the provider used.
# Unset, it follows PORT (the port `make run` serves on), so that the webhook URLs that
# seed_demo and the admin show are the ones this server answers; Twilio signs the URL.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}").rstrip(
    "/"
)
if env_bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- Email (alerts) ------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
# Seconds before a mail server that stopped answering is given up on (Django waits
# forever by default): a sender holds its row until the server answers.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "switchboard@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Phone numbers -------------------------------------------------------------------
# Region assumed for numbers written without a country code; empty: such numbers are
# refused, since guessing a country for a customer's number sends messages astray.
DEFAULT_PHONE_REGION = env_str("DEFAULT_PHONE_REGION") or None

# --- Webhooks -----------------------------------------------------------------------
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 5 * 1024 * 1024)
# Django refuses larger bodies on its own; let it refuse at our limit, not at 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = WEBHOOK_MAX_BODY_BYTES
# A failed event is retried after each of these delays in turn (one retry each), then
# it is dead: the first try on arrival plus five retries with the default.
WEBHOOK_RETRY_BACKOFF_MINUTES = [
    int(minutes)
    for minutes in env_list("WEBHOOK_RETRY_BACKOFF_MINUTES", ["1", "2", "4", "8", "16"])
]
# How long an enqueued or running event may stay unfinished before the sweep assumes
# its task or worker was lost and enqueues it again.
WEBHOOK_PROCESSING_LEASE_SECONDS = env_int("WEBHOOK_PROCESSING_LEASE_SECONDS", 300)
# How long a web process remembers which channel (and secret) a webhook URL or WhatsApp
# number belongs to. A stale secret costs one fresh lookup, never a refused webhook.
WEBHOOK_ROUTE_CACHE_SECONDS = env_int("WEBHOOK_ROUTE_CACHE_SECONDS", 30)
# A web process that has just seen a processing task queued and not yet started lets the
# webhooks it stores in the next this-many milliseconds ride on that task, which keeps
# taking waiting webhooks for as long after it starts (webhooks.queueing). 0: every
# webhook checks for itself.
WEBHOOK_WAKE_COALESCE_MS = env_int("WEBHOOK_WAKE_COALESCE_MS", 200)
# Under load a worker applies up to this many waiting webhooks in one transaction.
WEBHOOK_PROCESSING_BATCH = env_int("WEBHOOK_PROCESSING_BATCH", 50)
WEBHOOK_RETENTION_PROCESSED_DAYS = env_int("WEBHOOK_RETENTION_PROCESSED_DAYS", 30)
WEBHOOK_RETENTION_DEAD_DAYS = env_int("WEBHOOK_RETENTION_DEAD_DAYS", 90)
# The hourly check alerts an organization when at least this share of its last hour's
# webhooks failed, counting only hours with enough traffic to mean something.
WEBHOOK_FAILURE_RATE_THRESHOLD = float(env_str("WEBHOOK_FAILURE_RATE_THRESHOLD", "0.05"))
WEBHOOK_FAILURE_RATE_MIN_EVENTS = env_int("WEBHOOK_FAILURE_RATE_MIN_EVENTS", 20)
# Webhook health checks: a test message's status webhook (or echo) must come back
# within this many seconds; checks are kept this many days.
WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS = env_int("WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS", 120)
WEBHOOK_HEALTH_CHECK_RETENTION_DAYS = env_int("WEBHOOK_HEALTH_CHECK_RETENTION_DAYS", 30)
ADMINS = [("Operators", address) for address in env_list("ADMIN_EMAILS")]

# --- Erasure and retention (conversations.erasure, conversations.retention) -----------
# The key of the keyed hash (HMAC-SHA256) an erasure's audit record keeps of the
# contact's identifier: a later request can be checked against it, while a leaked table
# cannot be reversed by hashing every phone number. Empty: derived from SECRET_KEY (so
# rotating SECRET_KEY without setting this orphans old hashes: set it in production).
ERASURE_HASH_KEY = env_str("ERASURE_HASH_KEY")
# Rows per transaction when erasing or blanking messages: short locks on the inbox.
ERASURE_BATCH_SIZE = env_int("ERASURE_BATCH_SIZE", 500)

# --- Provider APIs -------------------------------------------------------------------
# Where the providers' APIs are; a benchmark or staging points them at a fake server.
# Unipile's is per channel (its DSN).
WHATSAPP_GRAPH_URL = env_str("WHATSAPP_GRAPH_URL", "https://graph.facebook.com")
WHATSAPP_GRAPH_VERSION = env_str("WHATSAPP_GRAPH_VERSION", "v23.0")
OPENPHONE_API_URL = env_str("OPENPHONE_API_URL", "https://api.openphone.com")
TWILIO_API_URL = env_str("TWILIO_API_URL", "https://api.twilio.com")

# --- Conversations -----------------------------------------------------------------
# Connections close_expired_windows uses at once on a backlog of several batches.
WINDOW_CLOSE_WORKERS = env_int("WINDOW_CLOSE_WORKERS", 2)

# --- Reconciliation ------------------------------------------------------------------
# How far back a reconciliation run reads the providers' messages by default.
RECONCILIATION_LOOKBACK_HOURS = env_int("RECONCILIATION_LOOKBACK_HOURS", 48)
# How far back the daily LinkedIn relations run reads (Unipile's new_relation webhook
# can come 8 hours late; three days also covers a weekend without runs).
RELATIONS_LOOKBACK_HOURS = env_int("RELATIONS_LOOKBACK_HOURS", 72)
# A page the provider fails to give (timeouts, 5xx, short 429s) is tried this many times
# within this many seconds; then the run fails, keeping its place to resume from.
RECONCILIATION_FETCH_ATTEMPTS = env_int("RECONCILIATION_FETCH_ATTEMPTS", 5)
RECONCILIATION_FETCH_SECONDS = env_int("RECONCILIATION_FETCH_SECONDS", 120)
# A running run that saved no page for this long lost its worker: the sweep fails it.
# Longer than one page can take: the retries above plus the HTTP timeouts.
RECONCILIATION_RUN_LEASE_SECONDS = env_int("RECONCILIATION_RUN_LEASE_SECONDS", 300)

# --- Event subscriptions (integrations) ----------------------------------------------
# Receivers on private, loopback, link-local (any non-global) addresses, and plain http:
# refused in production (SSRF); allowed in development so `make run` demos can post to
# a local receiver.
INTEGRATIONS_ALLOW_PRIVATE_URLS = env_bool("INTEGRATIONS_ALLOW_PRIVATE_URLS", default=DEBUG)
INTEGRATIONS_ALLOW_HTTP = env_bool("INTEGRATIONS_ALLOW_HTTP", default=DEBUG)
# A failed delivery is tried again after each of these delays (Svix's schedule: 5 s,
# 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then it is dead.
INTEGRATIONS_RETRY_SECONDS = [
    int(seconds)
    for seconds in env_list(
        "INTEGRATIONS_RETRY_SECONDS", ["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
# A subscription whose every attempt failed for this long is disabled (and emailed).
INTEGRATIONS_DISABLE_AFTER_DAYS = env_int("INTEGRATIONS_DISABLE_AFTER_DAYS", 5)
INTEGRATIONS_TIMEOUT_SECONDS = float(env_str("INTEGRATIONS_TIMEOUT_SECONDS", "10"))
# Deliveries claimed per round, and sent at once by one worker's threads.
INTEGRATIONS_BATCH = env_int("INTEGRATIONS_BATCH", 100)
INTEGRATIONS_SEND_THREADS = env_int("INTEGRATIONS_SEND_THREADS", 16)
# A claimed delivery whose worker died is claimed again after this (longer than a
# batch can take: ceil(batch / threads) x timeout).
INTEGRATIONS_LEASE_SECONDS = env_int("INTEGRATIONS_LEASE_SECONDS", 180)
# The pump task (every 10 s by beat) polls the outbox and the queue this often for
# this long, so an event leaves within about a poll interval.
INTEGRATIONS_POLL_SECONDS = float(env_str("INTEGRATIONS_POLL_SECONDS", "0.5"))
INTEGRATIONS_PUMP_SECONDS = env_int("INTEGRATIONS_PUMP_SECONDS", 10)

# --- Monitoring (reports.metrics, reports.alerts) -------------------------------------
# `/metrics` wants `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off (404) in
# production and open in development.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# The sliding window of the metrics of recent activity (intake, latency, sends).
METRICS_WINDOW_SECONDS = env_int("METRICS_WINDOW_SECONDS", 300)
# Operators (ADMINS) are emailed when the oldest unprocessed webhook of a provider is
# older than this...
ALERT_WEBHOOK_BACKLOG_SECONDS = env_int("ALERT_WEBHOOK_BACKLOG_SECONDS", 300)
# ...when a Celery queue's length has grown for this long...
ALERT_QUEUE_GROWTH_SECONDS = env_int("ALERT_QUEUE_GROWTH_SECONDS", 600)
# ...and when a usually busy channel received no webhook for longer than its usual
# quiet period (learned from ALERT_QUIET_LEARN_DAYS of its webhooks, reports.quiet; at
# least ALERT_QUIET_MIN_SECONDS), counting channels with ALERT_QUIET_MIN_WEBHOOKS webhooks.
ALERT_QUIET_LEARN_DAYS = env_int("ALERT_QUIET_LEARN_DAYS", 14)
ALERT_QUIET_MIN_SECONDS = env_int("ALERT_QUIET_MIN_SECONDS", 1800)
ALERT_QUIET_MIN_WEBHOOKS = env_int("ALERT_QUIET_MIN_WEBHOOKS", 200)

# --- REST API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so that an anonymous call is answered 401 with a WWW-Authenticate
    # header rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api.pagination.CursorPagination",
    # A JSON API: any other body is 415 UNSUPPORTED_MEDIA_TYPE.
    "DEFAULT_PARSER_CLASSES": ["tenants.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "tenants.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "tenants.api.errors.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# The API's schema and Swagger UI without signing in, as a public developer portal
# (config/docs.py). Off: for signed-in people (admin session or API token).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", default=False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": (
        "Multi-tenant messaging operations. Every error is "
        '`{"code": "...", "message": "...", "details": {...}}`; codes are stable. '
        "Send `X-Organization: <slug>` when your user belongs to several organizations."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's static files (pinned in requirements),
    # not a CDN: /api/v1/docs/ must work on a machine that cannot reach the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: Swagger UI would otherwise send the schema's URL to swagger.io's
    # online validator for its badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Choice sets that share a field name with another's ("kind", "state"): named here.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStepKindEnum": "campaigns.models.StepKind",
        "EnrollmentStateEnum": "campaigns.models.EnrollmentState",
        "DelayUnitEnum": "campaigns.models.DelayUnit",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenants.api.schema.add_error_responses",
        "outbox.schema.add_event_components",
        "integrations.stream_schema.add_stream_path",
    ],
}

# --- Logging -------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
