"""The local S3 front: what clients and functions reach as S3 in `parley local`, on a port of its own.

moto stores the objects; this front corrects it where a client would notice:
- a browser-style POST upload (a presigned POST) is checked as S3 checks it — SigV4 signature of the policy
  with the local credentials, expiry, every condition (key, bucket, Content-Type, content-length-range,
  x-amz-*), no field outside the policy — and refused with S3's status codes and XML errors;
- a request with no signature at all is refused (the bucket is private); a presigned GET/HEAD is refused
  once expired or when its SigV4 query signature does not match;
- CORS as the bucket's rule (shared/resources.py) answers it, for the origins the local HTTP API allows:
  a browser page posts the upload and fetches downloads straight from the front;
- an object stored (POST, PUT, copy) under an S3 trigger route's prefix runs that function asynchronously
  with a complete S3 event (keys URL-encoded as S3 does), retried route.retry_attempts times, then
  dead-lettered, as Lambda's asynchronous invocation does (infra/local/triggers.py, shared with schedules).
Everything else is passed to moto as it came.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, quote_plus, unquote
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from infra.local.http_api import CorsPolicy
from infra.local.lambda_context import ACCOUNT_ID, function_name
from infra.local.lambda_invoker import LambdaInvoker
from infra.local.triggers import DeadLetters, TriggerSettings, invoke_asynchronously
from shared.resources import MEDIA_CORS_EXPOSE_HEADERS, MEDIA_CORS_METHODS
from shared.routes import Route

log = logging.getLogger("local.s3")

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# Form fields S3 does not require the policy to cover.
_UNCOVERED_FIELDS = {"policy", "x-amz-signature", "file"}
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server", "date"}


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        extra = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in self.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>{extra}"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId><HostId>parley-local</HostId></Error>"
        )
        return web.Response(status=self.status, body=body.encode(), content_type="application/xml")


def _access_denied(message: str) -> S3Error:
    return S3Error(403, "AccessDenied", message)


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass
class S3Front:
    upstream_url: str  # moto (or AWS_ENDPOINT_URL)
    credentials: dict[str, str]  # access key id -> secret: who may sign
    routes: Sequence[Route]  # the "s3" trigger routes
    invoker: LambdaInvoker
    region: str
    dead_letters: DeadLetters = field(default_factory=DeadLetters)
    settings: TriggerSettings = field(default_factory=TriggerSettings)
    cors_origins: tuple[str, ...] = ("*",)  # the origins the bucket's CORS rule allows

    def __post_init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._sequencer = itertools.count(1)
        self._deliveries: set[asyncio.Task] = set()
        self._cors = CorsPolicy(
            allow_origins=self.cors_origins,
            allow_headers=("*",),
            allow_methods=MEDIA_CORS_METHODS,
            expose_headers=MEDIA_CORS_EXPOSE_HEADERS,
        )

    # ----------------------------------------------------------------------------------------- serving

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{path:.*}", self.handle)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _app: web.Application) -> None:
        for task in list(self._deliveries):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            if self._cors.is_preflight(request):
                return self._preflight(request)
            # Split the path as sent: the key stays URL-encoded for moto; the event gets it decoded.
            bucket, _, key = request.raw_path.partition("?")[0].lstrip("/").partition("/")
            if request.method == "POST" and bucket and not key and not request.query_string:
                response = await self._form_upload(request, bucket)
            else:
                self._check_signed(request)
                response = await self._proxy(request, bucket, key)
        except S3Error as error:
            log.info("s3 refused %s %s: %s", request.method, request.path, error)
            response = error.response()
        return self._cors.apply(request, response)  # errors too: a page can read why S3 refused

    def _preflight(self, request: web.Request) -> web.Response:
        if not self._cors.allowed_origin(request.headers.get("Origin")) or (
            request.headers["Access-Control-Request-Method"] not in MEDIA_CORS_METHODS
        ):
            raise S3Error(403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.")
        response = self._cors.preflight_response(request)
        response.set_status(200)  # S3 answers a preflight with 200
        return response

    # ------------------------------------------------------------------------------ presigned POST

    async def _form_upload(self, request: web.Request, bucket: str) -> web.Response:
        fields, content, file_name = await self._read_form(request)
        lower = {name.lower(): value for name, value in fields.items()}
        if "policy" not in lower and "x-amz-signature" not in lower:
            raise _access_denied("Access Denied")  # an anonymous upload to a private bucket
        for required in ("key", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
            if required not in lower:
                raise S3Error(400, "InvalidArgument", f"Bucket POST must contain a field named '{required}'.  "
                              "If it is specified, please check the order of the fields.")
        if lower["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
            raise S3Error(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported for x-amz-algorithm")
        self._check_policy_signature(lower)
        try:
            policy = json.loads(base64.b64decode(lower["policy"], validate=True))
        except ValueError:
            raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
        try:
            expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError):
            raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.") from None
        if expiration <= datetime.now(UTC):
            raise _access_denied("Invalid according to Policy: Policy expired.")
        if content is None:
            raise S3Error(400, "InvalidArgument", "POST requires exactly one file upload per request.")
        key = lower["key"].replace("${filename}", file_name or "")
        values = {**lower, "bucket": bucket, "key": key}
        covered = self._check_conditions(policy.get("conditions") or [], values, len(content))
        extra = sorted(n for n in lower if n not in covered and n not in _UNCOVERED_FIELDS and not n.startswith("x-ignore-"))
        if extra:
            raise _access_denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")

        headers = {"Content-Type": lower.get("content-type", "binary/octet-stream")}
        status, upstream_headers, body = await self._upstream("PUT", f"/{bucket}/{quote(key)}", headers, content)
        if status != 200:
            return self._response(status, upstream_headers, body)
        etag = upstream_headers.get("ETag", "")
        self._notify(bucket, key, "ObjectCreated:Post", len(content), etag.strip('"'), request.remote)
        location = f"{request.scheme}://{request.host}/{bucket}/{quote(key)}"
        success = lower.get("success_action_status", "204")
        if success == "201":
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{escape(location)}</Location>'
                   f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag></PostResponse>")
            return web.Response(status=201, body=xml.encode(), content_type="application/xml",
                                headers={"ETag": etag, "Location": location})
        return web.Response(status=200 if success == "200" else 204, headers={"ETag": etag, "Location": location})

    async def _read_form(self, request: web.Request) -> tuple[dict[str, str], bytes | None, str | None]:
        """The form fields before the file, and the file (fields after it are ignored, as by S3)."""
        if not request.content_type.startswith("multipart/form-data"):
            raise S3Error(412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
        fields: dict[str, str] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file":
                return fields, await part.read(decode=False), part.filename
            fields[part.name] = (await part.read(decode=False)).decode()
        return fields, None, None

    def _check_policy_signature(self, fields: dict[str, str]) -> None:
        try:
            access_key, date, region, service, terminal = fields["x-amz-credential"].split("/")
        except ValueError:
            raise S3Error(400, "InvalidArgument", "Invalid credential: x-amz-credential") from None
        secret = self.credentials.get(access_key)
        if secret is None:
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        expected = hmac.new(
            _signing_key(secret, date, region, service), fields["policy"].encode(), hashlib.sha256
        ).hexdigest()
        if terminal != "aws4_request" or not hmac.compare_digest(expected, fields["x-amz-signature"]):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                          "signature you provided. Check your key and signing method.")

    def _check_conditions(self, conditions: list, values: dict[str, str], size: int) -> set[str]:
        """Raises as S3 does for the first condition that fails; returns the fields the policy covers."""
        covered = set()
        for condition in conditions:
            if isinstance(condition, dict):
                (name, expected), = condition.items()
                condition = ["eq", f"${name}", expected]  # how S3 quotes it when it fails
                operator, name = "eq", name.lower()
            elif isinstance(condition, list) and len(condition) == 3:
                operator, name, expected = condition
                if operator == "content-length-range":
                    low, high = int(name), int(expected)
                    if size > high:
                        raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                                      ProposedSize=size, MaxSizeAllowed=high)
                    if size < low:
                        raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum "
                                      "allowed size", ProposedSize=size, MinSizeAllowed=low)
                    continue
                name = str(name).lower().removeprefix("$")
            else:
                raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition.")
            covered.add(name)
            actual = values.get(name, "")
            ok = actual == expected if operator == "eq" else operator == "starts-with" and actual.startswith(expected)
            if not ok:
                raise _access_denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}")
        return covered

    # ------------------------------------------------------------------------------ everything else

    def _check_signed(self, request: web.Request) -> None:
        """The bucket is private: a request must be signed; a presigned URL must be valid and in date."""
        if "Authorization" in request.headers:
            return  # an SDK's header-signed request (not verified locally)
        query = request.query
        if "X-Amz-Signature" not in query:
            raise _access_denied("Access Denied")
        try:
            signed_at = datetime.strptime(query["X-Amz-Date"], _AMZ_DATE).replace(tzinfo=UTC)
            expires = int(query["X-Amz-Expires"])
            access_key, date, region, service, _ = query["X-Amz-Credential"].split("/")
        except (KeyError, ValueError):
            raise S3Error(400, "AuthorizationQueryParametersError", "Query-string authentication version 4 "
                          "requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                          "X-Amz-SignedHeaders, and X-Amz-Expires parameters.") from None
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            raise _access_denied("Request has expired")
        secret = self.credentials.get(access_key)
        if secret is None:
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        raw_path, _, raw_query = request.raw_path.partition("?")
        pairs = sorted(
            (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
            for k, v in parse_qsl(raw_query, keep_blank_values=True)
            if k != "X-Amz-Signature"
        )
        signed_headers = query.get("X-Amz-SignedHeaders", "host")
        canonical_headers = "".join(
            f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed_headers.split(";")
        )
        canonical = "\n".join([
            request.method, raw_path, "&".join(f"{k}={v}" for k, v in pairs),
            canonical_headers, signed_headers, "UNSIGNED-PAYLOAD",
        ])
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{query['X-Amz-Date']}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(_signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                          "signature you provided. Check your key and signing method.")

    async def _proxy(self, request: web.Request, bucket: str, key: str) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        status, upstream_headers, data = await self._upstream(request.method, request.raw_path, headers, body)
        event_name = _created_event(request, key)
        if status == 200 and event_name:
            size, etag = await self._stat(bucket, key)
            self._notify(bucket, unquote(key), event_name, size, etag, request.remote)
        return self._response(status, upstream_headers, data)

    async def _stat(self, bucket: str, key: str) -> tuple[int, str]:
        _, headers, _ = await self._upstream("HEAD", f"/{bucket}/{key}", {}, b"")
        return int(headers.get("Content-Length", 0)), headers.get("ETag", "").strip('"')

    async def _upstream(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, CIMultiDict, bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers = dict(headers)
        # moto routes by the credential scope; requests signed in the query (or not at all) have none.
        headers.setdefault(
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential=local/20200101/{self.region}/s3/aws4_request, SignedHeaders=host, Signature=0",
        )
        async with self._session.request(
            method, self.upstream_url + path, headers=headers, data=body, allow_redirects=False
        ) as response:
            return response.status, CIMultiDict(response.headers), await response.read()

    @staticmethod
    def _response(status: int, headers: CIMultiDict, body: bytes) -> web.Response:
        kept = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
        return web.Response(status=status, body=body, headers=kept)

    # --------------------------------------------------------------------------------- notifications

    def _notify(self, bucket: str, key: str, event_name: str, size: int, etag: str, source_ip: str | None) -> None:
        for route in self.routes:
            if key.startswith(route.key):
                event = s3_event(
                    self.region, bucket, key, event_name, size, etag,
                    source_ip=source_ip or "127.0.0.1",
                    configuration_id=function_name(route),
                    sequencer=next(self._sequencer),
                )
                task = asyncio.get_running_loop().create_task(self._deliver(route, event))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, route: Route, event: dict) -> None:
        await invoke_asynchronously(
            route, event, invoker=self.invoker, dead_letters=self.dead_letters, settings=self.settings,
            region=self.region,
        )

    async def idle(self) -> None:
        """Waits until every delivery started so far has finished (tests)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)


def s3_event(
    region: str, bucket: str, key: str, event_name: str, size: int, etag: str, *,
    source_ip: str = "127.0.0.1", configuration_id: str = "parley", sequencer: int = 1,
) -> dict:
    """S3's notification event (version 2.1) for one object."""
    now = datetime.now(UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "eventName": event_name,
                "userIdentity": {"principalId": f"AWS:{ACCOUNT_ID}"},
                "requestParameters": {"sourceIPAddress": source_ip},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 2).decode(),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": ACCOUNT_ID},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        # S3 sends keys form-encoded: a space as "+", "+" as "%2B"; "/" as it is.
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag,
                        "sequencer": f"{sequencer:016X}",
                    },
                },
            }
        ]
    }


def _created_event(request: web.Request, key: str) -> str | None:
    if not key:
        return None
    query = request.query
    if request.method == "PUT" and not (set(query) - {"x-id"}):
        return "ObjectCreated:Copy" if "x-amz-copy-source" in request.headers else "ObjectCreated:Put"
    if request.method == "POST" and "uploadId" in query:
        return "ObjectCreated:CompleteMultipartUpload"
    return None
