"""Input limits, in one place: the README's API section quotes these numbers."""

MAX_TEXT_LENGTH = 4096  # characters (Unicode code points) in a text message
MAX_CLIENT_MESSAGE_ID_LENGTH = 64
MAX_USER_ID_LENGTH = 128
MAX_HTTP_BODY_BYTES = 64 * 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 1024
MAX_JSON_DEPTH = 32  # nesting levels in a request body or frame; Parley's own shapes need 3
DEFAULT_SEND_RATE_LIMIT_PER_MINUTE = 120  # per user, across devices; 0 turns the limit off

# Redis (REDIS_TIMEOUT_SECONDS, REDIS_BREAKER_SECONDS): a command that takes longer has failed, and a failure
# makes every function instance skip Redis for the breaker's period before it tries again.
DEFAULT_REDIS_TIMEOUT_SECONDS = 0.5
DEFAULT_REDIS_BREAKER_SECONDS = 5.0

# Every DynamoDB call (each model's Meta in shared/storage/tables.py, and the transaction connection) tries at most
# 1 + STORAGE_RETRY_ATTEMPTS times, each bounded by the connect and read timeouts, with botocore's backoff
# between tries (under a second for the first retry, throttling included). So a stalled call ends as the
# contract's 503 after STORAGE_CALL_MAX_SECONDS, which must leave every function that reaches a table at
# least STORAGE_HEADROOM_SECONDS of its timeout (tests/unit/test_timeouts.py checks the route table).
STORAGE_CONNECT_TIMEOUT_SECONDS = 1
STORAGE_READ_TIMEOUT_SECONDS = 2
STORAGE_RETRY_ATTEMPTS = 1
STORAGE_CALL_MAX_SECONDS = (1 + STORAGE_RETRY_ATTEMPTS) * (
    STORAGE_CONNECT_TIMEOUT_SECONDS + STORAGE_READ_TIMEOUT_SECONDS
) + STORAGE_RETRY_ATTEMPTS * 1
STORAGE_HEADROOM_SECONDS = 2

# The authorizers fetch their key (the JWKS document, or the HS256 secret from Secrets Manager) with this
# timeout to connect and again to answer, and no retry: a slow issuer or Secrets Manager is a refusal after
# KEY_FETCH_MAX_SECONDS, at least KEY_FETCH_HEADROOM_SECONDS before the authorizer's own timeout
# (tests/unit/test_timeouts.py checks the route table).
KEY_FETCH_TIMEOUT_SECONDS = 1.5
KEY_FETCH_MAX_SECONDS = 2 * KEY_FETCH_TIMEOUT_SECONDS
KEY_FETCH_HEADROOM_SECONDS = 1

# API Gateway WebSocket limits (AWS's numbers; the local runtime enforces the same).
WS_MAX_FRAME_BYTES = 128 * 1024
WS_IDLE_TIMEOUT_SECONDS = 10 * 60
WS_MAX_CONNECTION_SECONDS = 2 * 60 * 60

# The per-user event log (offline sync): entries are kept this long; an older cursor gets resync_required.
EVENT_RETENTION_SECONDS = 7 * 24 * 3600
SYNC_DEFAULT_LIMIT = 100
SYNC_MAX_LIMIT = 500
SYNC_MAX_PAGE_BYTES = 100 * 1024  # a sync page's events, encoded: room under the 128 KB frame limit
# Presence: a connection's heartbeat (its `ping`, every ~50 s) keeps its user online this long
# (PRESENCE_TTL_SECONDS). Typing: at most this many typing frames per user and conversation per window.
DEFAULT_PRESENCE_TTL_SECONDS = 90
MAX_PRESENCE_BULK_IDS = 50
TYPING_LIMIT_PER_WINDOW = 20
TYPING_WINDOW_SECONDS = 10
# A user's conversation list is sorted in memory: at most this many rows are read (about one DynamoDB page).
MAX_LISTED_CONVERSATIONS = 5000
MAX_SEARCH_QUERY_LENGTH = 256  # characters of a search query (q)
