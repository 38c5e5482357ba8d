"""Placeholder SigV4 signatures for the requests functions make to `parley local`'s own endpoints.

Neither the embedded moto nor the management API checks a signature (README, differences from AWS), yet
computing one (canonical request, four HMACs) was about a tenth of the runtime process's CPU under load:
every DynamoDB call and every push is signed. A request to a loopback address gets the headers SigV4 adds
(`X-Amz-Date`, the session token, an `Authorization` with the real credential scope, which moto reads
the region and account from) and a placeholder signature; a request anywhere else is signed as always.
Only `v4` is replaced: S3 (`s3v4`) and presigned URLs are signed as on AWS.
"""

from __future__ import annotations

LOOPBACK_V4 = "parley-loopback-v4"
_LOOPBACK_PREFIXES = ("http://127.", "http://localhost:", "http://localhost/", "http://[::1]")
_PLACEHOLDER_SIGNATURE = "0" * 64


def _choose_loopback_signer(signature_version, **_) -> str | None:
    return LOOPBACK_V4 if signature_version == "v4" else None


def install(session) -> None:
    """Before any client is made: botocore clients copy the session's handlers when created."""
    import botocore.auth
    from botocore.exceptions import NoCredentialsError

    class LoopbackSigV4Auth(botocore.auth.SigV4Auth):
        def add_auth(self, request) -> None:
            if not request.url.startswith(_LOOPBACK_PREFIXES):
                super().add_auth(request)
                return
            if self.credentials is None:
                raise NoCredentialsError()
            request.context["timestamp"] = botocore.auth.get_current_datetime().strftime(botocore.auth.SIGV4_TIMESTAMP)
            self._modify_request_before_signing(request)  # X-Amz-Date, X-Amz-Security-Token
            request.headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, SignedHeaders=host;x-amz-date, "
                f"Signature={_PLACEHOLDER_SIGNATURE}"
            )

    botocore.auth.AUTH_TYPE_MAPS[LOOPBACK_V4] = LoopbackSigV4Auth
    session.register("choose-signer", _choose_loopback_signer, unique_id="parley-local-loopback-signer")
