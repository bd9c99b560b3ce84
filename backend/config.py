"""Configuration classes, read from environment variables (DESIGN §5a).

`PIAOJIA_ENV` selects the class: `development` (the embedded default: SQLite in the
instance folder, jobs inline, generated secrets, demo identity provider), `production`
(everything required comes from the environment) or `test`.
"""
import json
import os


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class BaseConfig:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    PII_KEY = os.environ.get("PII_KEY")
    # PEM of the node's ES256 supervision-signature key (财政监制签章).
    PLATFORM_SIGNING_KEY = os.environ.get("PLATFORM_SIGNING_KEY") or None
    # The supervision signature's algorithm: ES256 (default) or SM2 (with SM3), and the SM2 key (PEM or path).
    PLATFORM_SIGNATURE_ALG = os.environ.get("PLATFORM_SIGNATURE_ALG", "ES256")
    PLATFORM_SM2_SIGNING_KEY = os.environ.get("PLATFORM_SM2_SIGNING_KEY") or None
    # Older PII keys, comma-separated, still accepted for decryption (key rotation).
    PII_OLD_KEYS = [k for k in os.environ.get("PII_OLD_KEYS", "").split(",") if k]
    # Key of the lookup hash; keep it fixed across PII_KEY rotations (default: PII_KEY).
    PII_HASH_KEY = os.environ.get("PII_HASH_KEY") or None
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    # hide_parameters: SQL errors in logs never carry personal data.
    # json_serializer: Chinese stays readable (and searchable) in JSON columns on SQLite too.
    SQLALCHEMY_ENGINE_OPTIONS = {
        # A round trip per checkout that finds a connection the server dropped; measured in
        # bench/REPORT.md. Off: a dropped connection fails one request, then the pool recovers.
        "pool_pre_ping": _env_bool("DATABASE_POOL_PRE_PING", True),
        "hide_parameters": True,
        "json_serializer": lambda obj: json.dumps(obj, ensure_ascii=False),
    }
    REDIS_URL = os.environ.get("REDIS_URL") or None
    NODE_PROVINCE = os.environ.get("NODE_PROVINCE", "46")
    HAIYIBAN_JWKS = os.environ.get("HAIYIBAN_JWKS") or None
    HAIYIBAN_ISSUER = os.environ.get("HAIYIBAN_ISSUER", "haiyiban")
    HAIYIBAN_AUDIENCE = "piaojia"
    HAIYIBAN_ALGORITHMS = ["ES256", "RS256"]
    DEMO_IDENTITY_PROVIDER = False
    WEBHOOK_ALLOW_PRIVATE_TARGETS = _env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    WEBHOOK_TOLERANCE_SECONDS = 300
    # A receipt.batch of 500 receipts is about 0.8 MiB.
    WEBHOOK_MAX_BODY_BYTES = int(os.environ.get("WEBHOOK_MAX_BODY_BYTES", 2 * 1024 * 1024))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 2 * 1024 * 1024))
    ACCESS_TOKEN_TTL_SECONDS = 900
    CLIENT_TOKEN_TTL_SECONDS = 3600
    REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600
    LOCK_TTL_SECONDS = int(os.environ.get("LOCK_TTL_SECONDS", 7 * 24 * 3600))
    # 1: an issuer without allocated code series may not issue at all (see docs/decisions/code-series.md)
    CODE_SERIES_REQUIRED = os.environ.get("CODE_SERIES_REQUIRED", "0") == "1"
    AUTHORIZATION_TTL_DAYS = int(os.environ.get("AUTHORIZATION_TTL_DAYS", 30))
    QR_TTL_SECONDS = 300
    # After a scan, the citizen has this long to approve or decline.
    QR_DECISION_SECONDS = 600
    SCAN_RATE_LIMIT = os.environ.get("SCAN_RATE_LIMIT", "20 per minute")
    # Base of the QR text (…/q/{token}); default: the URL the request came in on.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or None
    # Seconds between unit webhook attempts (comma-separated); default ~5 s, 5 min, 30 min, 2 h, 5 h, 10 h.
    WEBHOOK_RETRY_SCHEDULE = tuple(float(x) for x in os.environ.get("WEBHOOK_RETRY_SCHEDULE", "").split(",") if x.strip()) or None
    # How long one delivery attempt owns its row before another runner may take over.
    WEBHOOK_ATTEMPT_LEASE_SECONDS = float(os.environ.get("WEBHOOK_ATTEMPT_LEASE_SECONDS", 60))
    STREAM_TICKET_TTL_SECONDS = 60
    STREAM_MAX_SECONDS = float(os.environ.get("STREAM_MAX_SECONDS", 3600))
    # Streams the web process itself may hold open at once (each holds one of its threads);
    # 0: no limit. Production sends /api/v1/me/stream to the stream server instead.
    WEB_STREAMS_MAX = int(os.environ.get("WEB_STREAMS_MAX", 0))
    # The stream server's threads for sign-in and inbox reads (its streams themselves need none).
    STREAM_SERVER_THREADS = int(os.environ.get("STREAM_SERVER_THREADS", 8))
    # API clients, units and issuers kept per process, invalidated through Redis pub/sub
    # (docs/decisions/row-cache.md); used only with Redis.
    ROW_CACHE = _env_bool("ROW_CACHE", True)
    # Number of trusted reverse proxies in front of the app (X-Forwarded-For/Proto/Host).
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", 0))
    VERIFY_RATE_LIMIT = os.environ.get("VERIFY_RATE_LIMIT", "30 per minute")
    # Failed attempts (only failures count; 429 with Retry-After beyond them), see docs/decisions/failed-attempt-limits.md
    TOKEN_FAILURES_PER_CLIENT = os.environ.get("TOKEN_FAILURES_PER_CLIENT", "10 per 15 minutes")
    TOKEN_FAILURES_PER_ADDRESS = os.environ.get("TOKEN_FAILURES_PER_ADDRESS", "30 per 15 minutes")
    ASSERTION_FAILURES_PER_ADDRESS = os.environ.get("ASSERTION_FAILURES_PER_ADDRESS", "20 per 15 minutes")
    # Proof of possession (check code + amount) counts a wrong guess against its source — the
    # unit client, else the address (IPv6: its /64) — over all receipts and on the one receipt;
    # a receipt guessed wrong by PROOF_SOURCES_PER_RECEIPT distinct sources is closed to anonymous
    # proof for PROOF_LOCKOUT_SECONDS (units and the signed-in payer still prove it).
    PROOF_FAILURES_PER_CLIENT = os.environ.get("PROOF_FAILURES_PER_CLIENT", "30 per hour")
    PROOF_FAILURES_PER_ADDRESS = os.environ.get("PROOF_FAILURES_PER_ADDRESS", "60 per hour")
    PROOF_FAILURES_PER_SOURCE_AND_RECEIPT = os.environ.get("PROOF_FAILURES_PER_SOURCE_AND_RECEIPT", "5 per day")
    PROOF_SOURCES_PER_RECEIPT = os.environ.get("PROOF_SOURCES_PER_RECEIPT", "20 per day")
    BINDING_CODES_PER_CITIZEN = os.environ.get("BINDING_CODES_PER_CITIZEN", "10 per hour")
    # Wrong chat-binding codes: per chat account first; the bot's count is a backstop that one
    # account (at most 20 an hour) cannot reach alone and that, once reached, pauses binding for all.
    BINDING_FAILURES_PER_ACCOUNT = os.environ.get("BINDING_FAILURES_PER_ACCOUNT", "5 per 15 minutes")
    BINDING_FAILURES_PER_BOT = os.environ.get("BINDING_FAILURES_PER_BOT", "1000 per hour")
    PROOF_LOCKOUT_SECONDS = int(os.environ.get("PROOF_LOCKOUT_SECONDS", "3600"))
    # Federation (DESIGN §6): unset HUB_URL = this node runs alone.
    NODE_ROLE = os.environ.get("NODE_ROLE", "node")
    NODE_URL = os.environ.get("NODE_URL") or None
    HUB_URL = os.environ.get("HUB_URL") or None
    FEDERATION_SIGNING_KEY = os.environ.get("FEDERATION_SIGNING_KEY") or None
    FEDERATION_PREVIOUS_SIGNING_KEYS = os.environ.get("FEDERATION_PREVIOUS_SIGNING_KEYS") or None
    FEDERATION_PAYER_KEY = os.environ.get("FEDERATION_PAYER_KEY") or None
    FEDERATION_TIMEOUT_SECONDS = float(os.environ.get("FEDERATION_TIMEOUT_SECONDS", "3"))
    FEDERATION_MESSAGE_TTL_SECONDS = int(os.environ.get("FEDERATION_MESSAGE_TTL_SECONDS", "300"))
    FEDERATION_KEY_OVERLAP_SECONDS = int(os.environ.get("FEDERATION_KEY_OVERLAP_SECONDS", str(72 * 3600)))
    # A synced copy moves forward only: a snapshot whose version (the receipt's number of
    # timeline entries on its issuing node) is further ahead than this is refused and logged.
    FEDERATION_MAX_VERSION_STEP = int(os.environ.get("FEDERATION_MAX_VERSION_STEP", "200"))
    # Hub: a node subscribes for a payer only on the strength of a sign-in there, stated in
    # its signed `payer.subscribe` no older than this; and at most so many per node.
    FEDERATION_SIGN_IN_MAX_AGE_SECONDS = int(os.environ.get("FEDERATION_SIGN_IN_MAX_AGE_SECONDS", "3600"))
    FEDERATION_SUBSCRIPTIONS_PER_NODE = os.environ.get("FEDERATION_SUBSCRIPTIONS_PER_NODE", "20000/hour")
    # The chat bot's push endpoint (bots/: POST /push) and the Standard Webhooks secret shared with it.
    BOT_PUSH_URL = os.environ.get("BOT_PUSH_URL") or None
    BOT_PUSH_SECRET = os.environ.get("BOT_PUSH_SECRET") or None
    # Layout files: the certificate of the node's signing key (PEM or path); unset: a self-signed one.
    LAYOUT_CERT = os.environ.get("LAYOUT_CERT") or None
    LAYOUT_MAX_BYTES = int(os.environ.get("LAYOUT_MAX_BYTES", str(2 * 1024 * 1024)))
    # National data files (DESIGN §11): the largest one accepted, pushed or checked.
    DATA_FILE_MAX_BYTES = int(os.environ.get("DATA_FILE_MAX_BYTES", str(1024 * 1024)))
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None  # /metrics: Bearer token; unset = loopback only
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    LOG_JSON = _env_bool("LOG_JSON", True)
    # API / OpenAPI (flask-smorest)
    API_TITLE = "Piaojia 票夹 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = None
    JSON_AS_ASCII = False


class DevelopmentConfig(BaseConfig):
    """The embedded default: nothing else to start."""

    ENV_NAME = "development"
    DEMO_IDENTITY_PROVIDER = True
    WEBHOOK_ALLOW_PRIVATE_TARGETS = _env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", True)
    LOG_JSON = _env_bool("LOG_JSON", False)


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    # The finance department's seal (财政监制签章) in the national algorithm: SM2 with SM3, on
    # the JSON receipts' supervision signature and the data files' SupervisorPartySignature.
    # PLATFORM_SM2_SIGNING_KEY is then required (`openssl genpkey -algorithm SM2`); ES256 stays
    # an option (PLATFORM_SIGNATURE_ALG=ES256).
    PLATFORM_SIGNATURE_ALG = os.environ.get("PLATFORM_SIGNATURE_ALG", "SM2")
    WEB_STREAMS_MAX = int(os.environ.get("WEB_STREAMS_MAX", 2))
    REQUIRED = ("SECRET_KEY", "PII_KEY", "PLATFORM_SIGNING_KEY", "SQLALCHEMY_DATABASE_URI", "HAIYIBAN_JWKS")


class TestConfig(BaseConfig):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    # 32 bytes, base64url
    PII_KEY = "dGVzdC1waWkta2V5LTMyLWJ5dGVzLWxvbmctLS0tLS0"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    DEMO_IDENTITY_PROVIDER = True
    WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    LOG_JSON = True


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "test": TestConfig,
}


def config_class():
    name = os.environ.get("PIAOJIA_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"PIAOJIA_ENV must be one of {sorted(CONFIGS)}, not {name!r}")
