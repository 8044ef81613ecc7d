"""Settings from the environment, with defaults that run the whole portal locally (SQLite, local hub,
filesystem broker). Production sets ESAP_DATABASE_URL, ESAP_BROKER_URL, ESAP_SECRET_KEY and friends."""
from pathlib import Path

from celery.schedules import crontab

from esap.env import (DEVELOPMENT_SECRET_KEY, database_from_url, env, env_bool, env_choice, env_int, env_list,
                      oidc_providers)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env("ESAP_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("ESAP_DEBUG", True)
SECRET_KEY = env("ESAP_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Keys for secrets stored in the database (hub tokens); the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env_list("ESAP_FIELD_ENCRYPTION_KEYS", [])
ALLOWED_HOSTS = env_list("ESAP_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("ESAP_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "esap.apps.EsapConfig",
    "facilities",
    "workflows",
    "staging",
]

MIDDLEWARE = [
    "esap.health.HealthProbes",  # first: probes name no allowed host and come over plain HTTP
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "esap.middleware.RefuseNulCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "esap.urls"
WSGI_APPLICATION = "esap.wsgi.application"

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
                "staging.context_processors.cart_summary",
                "esap.account.account_context",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env("ESAP_DATABASE_URL", f"sqlite:///{DATA_DIR / 'esap.sqlite3'}"),
        test_name=env("ESAP_TEST_DATABASE_NAME", ""),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_choice("ESAP_EMAIL_VERIFICATION", "none", ["none", "optional", "mandatory"])
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "esap.account.AccountAdapter"
ACCOUNT_FORMS = {"login": "esap.account.PortalLoginForm"}
SOCIALACCOUNT_ADAPTER = "esap.account.SocialAccountAdapter"
# Anyone may make a local account (the demo); in production accounts come from an identity provider
# or from operators (see esap.account.AccountAdapter).
ESAP_OPEN_SIGNUP = env_bool("ESAP_OPEN_SIGNUP", DEBUG)
LOGIN_REDIRECT_URL = "/"
# Single sign-on through OpenID Connect providers (ESAP_OIDC_PROVIDERS, see README): authorization code
# with PKCE. Local accounts stay available. The provider's tokens are not kept: the portal needs only
# the claims, and a stored token would be one more secret to leak.
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "SCOPE": ["openid", "profile", "email"],
        "APPS": oidc_providers(env("ESAP_OIDC_PROVIDERS", "")),
    }
}
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an e-mail claim alone never takes over a local account
EMAIL_BACKEND = env("ESAP_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("ESAP_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("ESAP_EMAIL_PORT", 25)
EMAIL_HOST_USER = env("ESAP_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env("ESAP_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("ESAP_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("ESAP_EMAIL_TIMEOUT_SECONDS", 10)
DEFAULT_FROM_EMAIL = env("ESAP_EMAIL_FROM", "esap <esap@localhost>")
# Where users reach the portal, for links in e-mails (no request to build them from there).
ESAP_PUBLIC_URL = env("ESAP_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Behind the TLS-terminating proxy of docker/README.md: requests count as https when the proxy says so
# (X-Forwarded-Proto), so that the identity provider is given the https callback address it registered;
# cookies go over https only once the portal's public address is https.
if env_bool("ESAP_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if ESAP_PUBLIC_URL.startswith("https://"):
    ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
# A launch that ends this long after the user started (or retried) it is told by e-mail: they have
# likely stopped watching its page. 0 tells every end.
ESAP_NOTIFY_AFTER_SECONDS = env_int("ESAP_NOTIFY_AFTER_SECONDS", 300)
ESAP_API_TOKEN_DAYS = env_int("ESAP_API_TOKEN_DAYS", 90)  # the longest a personal API token lives
# Prometheus's scraper sends it as `Authorization: Bearer ...` to /metrics (esap.metrics_view); unset,
# only logged-in staff may read /metrics.
ESAP_METRICS_TOKEN = env("ESAP_METRICS_TOKEN", "").strip()

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("ESAP_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "esap.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "esap.api.ExactPageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "esap.schema.AutoSchema",  # drf-spectacular's, with the error answers
    "EXCEPTION_HANDLER": "esap.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
ESAP_MAX_PAGE_SIZE = env_int("ESAP_MAX_PAGE_SIZE", 100)
ESAP_SEARCH_COUNT_CAP = env_int("ESAP_SEARCH_COUNT_CAP", 1000)  # results counted at most (see esap.search)
ESAP_MAX_QUERY_LENGTH = env_int("ESAP_MAX_QUERY_LENGTH", 200)

SPECTACULAR_SETTINGS = {
    "TITLE": "esap API",
    "DESCRIPTION": "Catalogue search, cart and checkout of the esap analysis-facility portal.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Imports esap.schema (the Bearer API-token security scheme) before the views are described.
    "PREPROCESSING_HOOKS": ["esap.schema.register_extensions"],
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
}

# Celery. The embedded default uses a filesystem transport (esap/broker.py) so that a newcomer needs no
# broker daemon; production sets ESAP_BROKER_URL=redis://...
CELERY_BROKER_URL = env("ESAP_BROKER_URL", "localfs://")
CELERY_BROKER_FOLDER = Path(env("ESAP_BROKER_FOLDER", str(DATA_DIR / "broker")))
if CELERY_BROKER_URL.startswith("localfs://"):
    for _sub in ("queue", "processed", "control"):
        (CELERY_BROKER_FOLDER / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default control folder is relative to the working directory: a web process started
        # elsewhere than its worker would never reach it (no worker pings, no broadcasts).
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "store_processed": False,
        "polling_interval": float(env("ESAP_BROKER_POLL_SECONDS", "0.05")),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("ESAP_TASK_SOFT_TIME_LIMIT", 900)
CELERY_TASK_TIME_LIMIT = env_int("ESAP_TASK_TIME_LIMIT", 960)
# A prefork child grown past this by the end of a task is replaced, so that a slow leak anywhere cannot
# take the machine (the soak in benchmarks/README.md); the embedded default's threads pool ignores it.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("ESAP_WORKER_MAX_MEMORY_MIB", 512) * 1024  # in KiB
if CELERY_BROKER_URL.startswith("redis"):
    # A task unacknowledged for this long is delivered again: above the longest step (acks_late).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("ESAP_VISIBILITY_TIMEOUT", 3600)}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Intervals count from beat's start when its schedule file is new (a container redeployed without a volume
# for it): anything daily or rarer runs at a time of day instead, or a stack redeployed more often than
# that would never run it.
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-checkouts": {
        "task": "staging.tasks.checkout_sweep",
        "schedule": float(env_int("ESAP_SWEEP_SECONDS", 30)),
    },
    "harvest-repositories": {
        "task": "workflows.tasks.repository_harvest_all",
        "schedule": float(env_int("ESAP_HARVEST_SECONDS", 3600)),
    },
    "probe-facilities": {
        "task": "facilities.tasks.facility_probe_all",
        "schedule": float(env_int("ESAP_PROBE_SECONDS", 300)),
    },
    "refresh-planner-statistics": {
        "task": "esap.tasks.planner_statistics_refresh",
        "schedule": float(env_int("ESAP_STATISTICS_SECONDS", 3600)),
    },
    "reconcile-ready-launches": {
        "task": "staging.tasks.checkout_reconcile",
        "schedule": float(env_int("ESAP_RECONCILE_SECONDS", 600)),
    },
    "prune-checkout-events": {
        "task": "staging.tasks.checkout_events_prune",
        "schedule": crontab(hour=3, minute=17),  # UTC
    },
}

# Checkout behaviour.
# A worker holds a checkout for this long between signs of life; past it, another worker may resume it.
ESAP_CHECKOUT_LEASE_SECONDS = env_int("ESAP_CHECKOUT_LEASE_SECONDS", 120)
ESAP_REQUEUE_AFTER_SECONDS = env_int("ESAP_REQUEUE_AFTER_SECONDS", 300)
ESAP_CELL_TIMEOUT_SECONDS = env_int("ESAP_CELL_TIMEOUT_SECONDS", 120)
# Progress events of launches over for this long are deleted daily, all but each one's last (0: keep all).
ESAP_EVENT_RETENTION_DAYS = env_int("ESAP_EVENT_RETENTION_DAYS", 180)
# Data in transit (a Rucio replication rule): a run waits this long, then gives the worker back and a
# later run looks again, first after ESAP_STAGING_RECHECK_SECONDS, then less often as the copy drags on
# (at most every 10 minutes, below the broker's visibility timeout), until the facility's staging deadline.
ESAP_STAGING_WAIT_SECONDS = env_int("ESAP_STAGING_WAIT_SECONDS", 30)
ESAP_STAGING_RECHECK_SECONDS = env_int("ESAP_STAGING_RECHECK_SECONDS", 60)
ESAP_NOTEBOOK_DIR = env("ESAP_NOTEBOOK_DIR", "esap")
# Outbound URLs (facility hubs, repositories): loopback/private targets only if the operator allows.
ESAP_ALLOW_PRIVATE_URLS = env_bool("ESAP_ALLOW_PRIVATE_URLS", DEBUG)

# Harvesting workflows from Git. Private/loopback repository hosts only if the operator says so. Plaintext
# transports (http://, git://) let anyone on the path change a notebook whose first cells run in every
# launching user's server: in production only https unless the operator says otherwise (esap.checks warns).
ESAP_GIT_SCHEMES = env_list("ESAP_GIT_SCHEMES", ["https", "http", "git"] if DEBUG else ["https"])
ESAP_GIT_ALLOW_PRIVATE_URLS = env_bool("ESAP_GIT_ALLOW_PRIVATE_URLS", False)
ESAP_GIT_MAX_BYTES = env_int("ESAP_GIT_MAX_BYTES", 200 * 1024 * 1024)
ESAP_GIT_MAX_FILES = env_int("ESAP_GIT_MAX_FILES", 20_000)
ESAP_GIT_TIMEOUT_SECONDS = env_int("ESAP_GIT_TIMEOUT_SECONDS", 120)

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "esap.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": env_choice("ESAP_LOG_FORMAT", "plain", ["plain", "json"])}},
    "root": {"handlers": ["console"], "level": env_choice("ESAP_LOG_LEVEL", "INFO", LOG_LEVELS)},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
