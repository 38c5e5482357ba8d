"""Names shared by the CDK stack, the local runtime and the code: one source for each.

The stack creates a table per logical name and hands its physical name to every function through the
environment variable named here; the local runtime does the same with a prefix of its own.
"""

# logical table name -> environment variable that carries the physical name
TABLE_ENV = {
    "conversations": "CONVERSATIONS_TABLE",
    "user_conversations": "USER_CONVERSATIONS_TABLE",
    "messages": "MESSAGES_TABLE",
    "sent_messages": "SENT_MESSAGES_TABLE",
    "connections": "CONNECTIONS_TABLE",
    "events": "EVENTS_TABLE",
    "stars": "STARS_TABLE",
    "media": "MEDIA_TABLE",
}

# The bucket of the per-user search indexes (derived data: rebuilt from the messages if lost).
SEARCH_BUCKET_ENV = "SEARCH_BUCKET"


# The bucket uploads and their renditions live in (private; see shared/media/keys.py for its layout).
MEDIA_BUCKET_ENV = "MEDIA_BUCKET"

# The deployed WebSocket API's stage; the local runtime puts the same name in its events.
WEBSOCKET_STAGE = "prod"

# Other settings every function may read (see shared/config.py for meaning and defaults).
REDIS_URL_ENV = "REDIS_URL"
REDIS_TIMEOUT_ENV = "REDIS_TIMEOUT_SECONDS"
REDIS_BREAKER_ENV = "REDIS_BREAKER_SECONDS"
WS_MANAGEMENT_URL_ENV = "WS_MANAGEMENT_URL"
JWT_SECRET_ENV = "JWT_SECRET"
JWT_SECRET_ARN_ENV = "JWT_SECRET_ARN"
JWKS_URL_ENV = "JWKS_URL"
JWT_ISSUER_ENV = "JWT_ISSUER"
JWT_AUDIENCE_ENV = "JWT_AUDIENCE"
SEND_RATE_LIMIT_ENV = "SEND_RATE_LIMIT_PER_MINUTE"
PRESENCE_TTL_ENV = "PRESENCE_TTL_SECONDS"
LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"

# The HTTP API's CORS rules (infra/constructs/apis.py; the local runtime applies the same). Browsers may
# send the token and a JSON body, and may read `retry-after` (a 429's hint) from a cross-origin answer.
CORS_ALLOW_HEADERS = ("authorization", "content-type")
CORS_EXPOSE_HEADERS = ("retry-after",)
CORS_MAX_AGE_SECONDS = 3600
# The media bucket's CORS rule (infra/constructs/media.py; the local S3 front applies the same): browsers
# post uploads and fetch downloads through presigned links, any header, and may read where an upload went.
MEDIA_CORS_METHODS = ("GET", "HEAD", "POST")
MEDIA_CORS_EXPOSE_HEADERS = ("ETag", "Location")

# The service name on every log line and metric, and the CloudWatch namespace of Parley's own metrics
# (shared/metrics.py writes them, infra/constructs/monitoring.py alarms on them).
SERVICE_NAME = "parley"
METRICS_NAMESPACE = "Parley"
