"""Feedback Hub settings: the only place that reads the environment.

Three modes share this one file:

* production (the default): every secret and service comes from the environment and the process
  refuses to start without them (see .env.example);
* embedded (``HUB_EMBEDDED=1``, set by ``make run``): SQLite and a filesystem Celery broker under
  var/, secrets generated once into var/embedded.env, DEBUG on, nothing else to install;
* test (under pytest): like embedded, but DATABASE_URL and CELERY_BROKER_URL are honoured when set
  so CI runs on PostgreSQL and Redis.
"""

import ipaddress
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# Lets admin.ModelAdmin[Model] and friends be subscripted at run time, as the type stubs want.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# Local state of embedded mode and of the tests (SQLite files, broker folders, generated secrets).
VAR_DIR = Path(env.str("HUB_VAR_DIR", default=str(BASE_DIR / "var")))

# Under pytest the suite configures itself; a real deployment never imports pytest.
TESTING = "pytest" in sys.modules
# What production must be given (.env.example); embedded mode generates or defaults them.
PRODUCTION_VARIABLES = (
    "SECRET_KEY",
    "HUB_ENCRYPTION_KEYS",
    "HUB_HASH_KEYS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
)
# Embedded mode: one machine, nothing but Python (`make run`). Also on by itself in the folder that
# `make run` set up (its secrets file exists) when none of the production variables is set, so that
# `manage.py <command>` works there as the README shows; HUB_EMBEDDED=0 turns that off.
EMBEDDED_ENV_FILE = VAR_DIR / "embedded.env"
EMBEDDED = (
    env.bool(
        "HUB_EMBEDDED",
        default=EMBEDDED_ENV_FILE.exists() and not any(name in env for name in PRODUCTION_VARIABLES),
    )
    and not TESTING
)


def _embedded_secrets() -> None:
    """Create var/embedded.env once with every generated secret, then load it.

    A secret added in a later version is appended to an existing file, keeping the others."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = EMBEDDED_ENV_FILE
    generated = {
        "SECRET_KEY": lambda: secrets.token_urlsafe(50),
        "HUB_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
        "HUB_HASH_KEYS": lambda: secrets.token_urlsafe(32),
    }
    existing = path.read_text() if path.exists() else ""
    have = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    missing = "".join(f"{name}={make()}\n" for name, make in generated.items() if name not in have)
    if missing:
        separator = "\n" if existing and not existing.endswith("\n") else ""
        path.write_text(existing + separator + missing)
        path.chmod(0o600)
    environ.Env.read_env(str(path), overwrite=False)


def _required(name: str) -> str:
    """The name of a production variable that is set; else one line saying what is missing and what to do."""
    if not env.str(name, default=""):
        raise ImproperlyConfigured(
            f"{name} is not set. Production needs {', '.join(PRODUCTION_VARIABLES)} (see .env.example); "
            f"for the local hub run `make run` once in this folder (it creates {EMBEDDED_ENV_FILE}), "
            "or set HUB_EMBEDDED=1."
        )
    return name


if EMBEDDED:
    _embedded_secrets()

if TESTING:
    # Fixed, obviously fake secrets: tests never touch real data.
    SECRET_KEY = env.str("SECRET_KEY", default="test-only-secret-key-not-for-production-0123456789")
    HUB_ENCRYPTION_KEYS = env.list(
        "HUB_ENCRYPTION_KEYS", default=["lBz1WW_bxF1lDDAHfrnKlZBGZ0N8jVCzNc6-rIpjy1c="]
    )
    HUB_HASH_KEYS = env.list("HUB_HASH_KEYS", default=["test-only-hash-key-not-for-production-0123456789"])
else:
    # Production refuses to start without these (ImproperlyConfigured naming what is missing).
    SECRET_KEY = env.str(_required("SECRET_KEY"))
    # Fernet keys for secrets at rest; the first encrypts, all decrypt (rotation: docs/operations.md).
    HUB_ENCRYPTION_KEYS = env.list(_required("HUB_ENCRYPTION_KEYS"))
    # Keys of the HMAC that suppressions and deletion receipts store instead of emails and ids; the
    # first hashes new rows, all match (rotation: docs/operations.md).
    HUB_HASH_KEYS = env.list(_required("HUB_HASH_KEYS"))
if not HUB_HASH_KEYS or any(len(key) < 32 for key in HUB_HASH_KEYS):
    raise ImproperlyConfigured("HUB_HASH_KEYS must hold one or more keys of at least 32 characters.")
# Also match suppressions stored as bare SHA-256 before keyed hashes; off only once those rows are
# deleted or may lapse (docs/operations.md).
HUB_HASH_LEGACY_SHA256 = env.bool("HUB_HASH_LEGACY_SHA256", default=True)

DEBUG = env.bool("DEBUG", default=EMBEDDED)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if (EMBEDDED or TESTING) else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Survey pages explain a refused cookie in the survey's style; elsewhere Django's own 403 page.
CSRF_FAILURE_VIEW = "surveys.views.csrf_failure"

INSTALLED_APPS = [
    "hub.apps.HubAdminConfig",  # django.contrib.admin with the hub's site (hub/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the hub (no CDN)
    "django_celery_beat",
    "axes",
    "integrations",
    "customers",
    "surveys",
    "insights",
    "testimonials",
    "actions",  # acting on answers: alerts, auto-replies, cases (after surveys; nothing below imports it)
    "hub",  # the project: the beat schedule of every app (hub/schedule.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "hub.middleware.query_parameters_clean",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view's Http404: the friendly page, never Django's debug page (hub/views.py).
    "hub.middleware.NotFoundPages",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

if not (DEBUG or TESTING):
    # Production serves the admin's static files itself (after `manage.py collectstatic`).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database -------------------------------------------------------------------------------------
if EMBEDDED or TESTING:
    _default_db = f"sqlite:///{VAR_DIR / ('test.sqlite3' if TESTING else 'hub.sqlite3')}"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": env.db("DATABASE_URL", default=_default_db)}
else:
    DATABASES = {"default": env.db(_required("DATABASE_URL"))}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one file: wait for the lock instead of failing, and let readers
    # run beside the writer (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file, not :memory:, so a worker process in the tests can open it too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-run.sqlite3")}
else:
    # Persistent connections in production; none under tests (a live server thread would keep one open).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0 if TESTING else 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Intake bodies are read and size-checked by the intake view itself; this only bounds form posts.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security in production ------------------------------------------------------------------------
if not (DEBUG or TESTING):
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- REST framework --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff status and Django's model permissions (view_ to read), as given in the admin (hub/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": ["hub.permissions.StaffModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Bodies parsed totally (bounded depth; U+0000 refused with a 400, hub/cleaning.py).
    "DEFAULT_PARSER_CLASSES": [
        "hub.parsers.JSONParser",
        "hub.parsers.FormParser",
        "hub.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "hub.api.AutoSchema",
    "EXCEPTION_HANDLER": "hub.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Feedback Hub API",
    "DESCRIPTION": "Management API of Feedback Hub. The Segment-compatible intake lives under /v1/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema names every endpoint and field: staff only (a token, or the admin's login).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
    # /api/docs/ loads Swagger UI from the hub's static files (drf-spectacular-sidecar): it works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge from Swagger's online validator either.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Celery ----------------------------------------------------------------------------------------
if EMBEDDED or TESTING:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
else:
    CELERY_BROKER_URL = env.str(_required("CELERY_BROKER_URL"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: messages are files in one folder, no broker process needed.
    # Fine for one machine (embedded mode); use Redis or RabbitMQ anywhere else.
    _broker_dir = str(VAR_DIR / ("test-broker" if TESTING else "broker"))
    CELERY_FILESYSTEM_BROKER_DIR = Path(env.str("CELERY_FILESYSTEM_BROKER_DIR", default=_broker_dir))
    for _sub in ("queue", "processed", "control"):
        (CELERY_FILESYSTEM_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless this is
# set: a new PostgreSQL connection per task (5 % of a worker's time in the backlog's profile, and
# each new backend starts with cold caches; docs/benchmarks.md). With it, it closes them every 1,000
# tasks, and between those CONN_MAX_AGE and the health checks decide after each task, as after a web
# request (hub/celery.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Publishing happens inside a web request: give up fast when the broker is down (the sweeper
# picks the events up later) instead of holding the client.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Cache -----------------------------------------------------------------------------------------
# Shared by every web process: rate-limit counters (hub/throttle.py) and vendor tokens (Wootric).
# CACHE_URL in django-environ's form: redis://host:6379/1, filecache:///var/cache/hub, dbcache://table
# (after `manage.py createcachetable`). Unset: the broker's Redis when the broker is Redis, else files
# under var/cache/ (one machine); the tests use memory, emptied before each test.
if "CACHE_URL" in env:
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }
# Keeps the hub's keys apart from the broker's when they share a Redis database.
CACHES["default"].setdefault("KEY_PREFIX", "hub")

# --- Throttling (hub/throttle.py) and the admin's login lockout ----------------------------------------
_RATE = re.compile(r"(\d+/\d*[smhd])?")


def _rate(name: str, default: str) -> str:
    """A rate such as 60/m ("<count>/<period>": s, m, h or d, e.g. 100/5m); empty: unlimited."""
    value = env.str(name, default=default).strip()
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name} must look like 60/m (count/period, period s, m, h or d): {value!r}"
        )
    return value


# Requests per client address to the public survey pages (/s/...); a person needs about 4 per answer.
HUB_RATE_SURVEY_PAGES = _rate("HUB_RATE_SURVEY_PAGES", "60/m")
# Requests per client address to the collectors' links (/api.php, /collect/...). Intercom calls from a
# few addresses and may drop notifications it was told to slow down for: keep this above your peak.
HUB_RATE_COLLECTORS = _rate("HUB_RATE_COLLECTORS", "300/m")
# Requests per client address to the testimonial embeds (/embed/...): a website visitor's browser
# makes one per page view with an embed.
HUB_RATE_EMBEDS = _rate("HUB_RATE_EMBEDS", "120/m")
# Seconds a browser may show an embed's quotes without asking again (it then revalidates with the
# ETag: 304 while nothing changed). 0: a withdrawn or hidden quote is gone from the next page view.
HUB_EMBED_MAX_AGE = max(0, env.int("HUB_EMBED_MAX_AGE", default=0))
# Requests per source to the intake (/v1/*), e.g. 1000/s; empty (the default): no limit. Clients retry
# a 429 (Segment's libraries with backoff).
INTAKE_RATE_PER_SOURCE = _rate("INTAKE_RATE_PER_SOURCE", "")
# The header a proxy you run sets to the client's address (e.g. X-Forwarded-For, whose last entry is
# taken); empty: the connection's address (REMOTE_ADDR). Never set it without such a proxy: clients
# could then claim any address.
HUB_CLIENT_ADDRESS_HEADER = env.str("HUB_CLIENT_ADDRESS_HEADER", default="")
HUB_CLIENT_ADDRESS_META_KEY = (
    "HTTP_" + HUB_CLIENT_ADDRESS_HEADER.upper().replace("-", "_") if HUB_CLIENT_ADDRESS_HEADER else ""
)
# django-ratelimit: a cache that fails lets requests through (hub/throttle.py logs it).
RATELIMIT_FAIL_OPEN = True

# The admin's login (django-axes): this many failed passwords for one username from one address...
AXES_FAILURE_LIMIT = env.int("HUB_LOGIN_FAILURE_LIMIT", default=5)
# ... lock that username on that address for this many minutes (`manage.py axes_reset` unlocks all).
AXES_COOLOFF_TIME = timedelta(minutes=env.int("HUB_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "hub.throttle.client_address"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

# --- Intake ----------------------------------------------------------------------------------------
# Segment's limits (protocols.md §1, gotcha 5): 32 KB per event, ~500 KB and 2,500 events per batch.
# The official Python client can send batches of ~508 KB, so the batch cap has headroom.
INTAKE_MAX_EVENT_BYTES = env.int("INTAKE_MAX_EVENT_BYTES", default=32 * 1024)
INTAKE_MAX_BATCH_BYTES = env.int("INTAKE_MAX_BATCH_BYTES", default=512 * 1024 + 8 * 1024)
INTAKE_MAX_BATCH_EVENTS = env.int("INTAKE_MAX_BATCH_EVENTS", default=2500)
# Accepted events that no worker processed within this many seconds are picked up by the sweeper.
INTAKE_SWEEP_AFTER_SECONDS = env.int("INTAKE_SWEEP_AFTER_SECONDS", default=60)
# Seconds a processing task goes on with the other events waiting in its request's source, once its
# own are done (0: only its own). Tasks of other kinds in the queue wait at most about this long.
INTAKE_PROCESS_WAITING_SECONDS = env.float("INTAKE_PROCESS_WAITING_SECONDS", default=5.0)
# Seconds a process trusts a write key it recognised (0-5; 0: ask the database on every request).
# Disabling or deleting a key, or disabling its source, takes effect within this time.
INTAKE_WRITE_KEY_CACHE_SECONDS = env.float("INTAKE_WRITE_KEY_CACHE_SECONDS", default=5.0)
if not 0 <= INTAKE_WRITE_KEY_CACHE_SECONDS <= 5:
    raise ImproperlyConfigured("INTAKE_WRITE_KEY_CACHE_SECONDS must be between 0 and 5.")

# Upgrading only: the source that migration integrations.0006 gives destinations that name none
# when the hub has several sources (a destination now belongs to one source; docs/operations.md).
HUB_MIGRATE_DESTINATION_SOURCE = env.str("HUB_MIGRATE_DESTINATION_SOURCE", default="")


# --- Outbound calls --------------------------------------------------------------------------------
def _networks(name: str) -> list[str]:
    """Comma-separated CIDRs, each checked now: a typo must not start a hub that allows more than meant."""
    networks = []
    for cidr in env.list(name, default=[]):
        try:
            networks.append(str(ipaddress.ip_network(cidr.strip())))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: '{cidr}' is not a network in CIDR form ({exc}).") from exc
    return networks


# Networks destinations may reach besides public addresses (loopback, private, link-local ... are
# refused otherwise), e.g. 127.0.0.1/32 for another hub on this machine. Empty: public addresses only.
HUB_OUTBOUND_ALLOWED_NETWORKS = _networks("HUB_OUTBOUND_ALLOWED_NETWORKS")

# --- Surveys and email -----------------------------------------------------------------------------
# Embedded mode: the port `make run` serves on (the Procfile's runserver reads it too).
HUB_PORT = env.str("HUB_PORT", default="8000")
if not (HUB_PORT.isascii() and HUB_PORT.isdigit() and 0 < int(HUB_PORT) < 65536):
    raise ImproperlyConfigured(f"HUB_PORT must be a port number (1-65535): {HUB_PORT!r}")
# Where people reach the hub: links in survey emails, the preview, List-Unsubscribe and the admin's
# sign-in line are built on this. Unset: http://127.0.0.1:<HUB_PORT> (what `make run` serves).
HUB_BASE_URL = env.str("HUB_BASE_URL", default=f"http://127.0.0.1:{HUB_PORT}").rstrip("/")
# One variable for the mail transport, django-environ's form: smtp://user:pass@host:587,
# smtp+tls://..., smtp+ssl://..., consolemail://, filemail:////abs/path. Embedded mode writes messages
# as files under var/mail/ so a new user can read them; tests use Django's in-memory outbox.
if TESTING:
    _default_email_url = "memorymail://"
elif EMBEDDED:
    _default_email_url = f"filemail://{VAR_DIR / 'mail'}"
else:
    _default_email_url = "smtp://127.0.0.1:25"
_email = env.email_url("EMAIL_URL", default=_default_email_url)
# A django-anymail provider instead (e.g. anymail.backends.postmark.EmailBackend), with its
# settings as JSON in ANYMAIL (e.g. {"POSTMARK_SERVER_TOKEN": "..."}).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=_email["EMAIL_BACKEND"])
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_FILE_PATH = (
    str(VAR_DIR / "mail") if EMBEDDED and "EMAIL_URL" not in env else _email.get("EMAIL_FILE_PATH")
)
# Its WEBHOOK_SECRET ("user:password") turns on the ESP's tracking webhooks under /anymail/: bounces
# they report suppress the address (docs/operations.md).
ANYMAIL = env.json("ANYMAIL", default={"WEBHOOK_SECRET": "test-only:webhook-secret"} if TESTING else {})
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Feedback Hub <surveys@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# Invitations claimed by a dispatcher that died are claimed again after this many seconds.
SURVEY_CLAIM_TIMEOUT_SECONDS = env.int("SURVEY_CLAIM_TIMEOUT_SECONDS", default=600)
# Invitations sent per SMTP connection and per dispatch run.
SURVEY_DISPATCH_BATCH = env.int("SURVEY_DISPATCH_BATCH", default=200)

# --- Insights ------------------------------------------------------------------------------------
# Days of comments the nightly theme job reads as "this period" (and the same length before it for
# the change); also the admin's themes page period.
INSIGHTS_THEME_PERIOD_DAYS = env.int("INSIGHTS_THEME_PERIOD_DAYS", default=30)
# Scheduled report emails: the hour (0-23), in each subscriber's time zone, on the day after a week or
# month ends, from which its report is sent; and the seconds after which a sender's claim in the
# ledger counts as abandoned (its sender died) and another run sends that report.
INSIGHTS_REPORT_SEND_HOUR = env.int("INSIGHTS_REPORT_SEND_HOUR", default=7)
if not 0 <= INSIGHTS_REPORT_SEND_HOUR <= 23:
    raise ImproperlyConfigured("INSIGHTS_REPORT_SEND_HOUR is an hour of the day, 0 to 23.")
INSIGHTS_REPORT_CLAIM_TIMEOUT_SECONDS = env.int("INSIGHTS_REPORT_CLAIM_TIMEOUT_SECONDS", default=900)

# --- Acting on answers -----------------------------------------------------------------------------
# Hours from a detractor's case opening to its due date (staff change a case's due date in the admin).
CASES_DUE_HOURS = env.int("CASES_DUE_HOURS", default=48)

# --- Logging ---------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {  # errors written naming no one (hub/logs.py)
        "plain": {"class": "hub.logs.NamingNoOne", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Embedded mode only: `make run` creates this admin user when none exists (ensure_local_admin).
HUB_LOCAL_ADMIN_USER = env.str("HUB_ADMIN_USER", default="admin")
HUB_LOCAL_ADMIN_PASSWORD = env.str("HUB_ADMIN_PASSWORD", default="")
# Its email, where "send test to me" goes (in embedded mode a file under var/mail/); also given to an
# earlier local admin that has none.
HUB_LOCAL_ADMIN_EMAIL = env.str("HUB_ADMIN_EMAIL", default=f"{HUB_LOCAL_ADMIN_USER}@localhost")
