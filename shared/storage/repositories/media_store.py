"""The media bucket: presigned uploads and downloads, and the objects the media functions read and write.

Presigned links are SigV4 (S3 refuses v2 in newer regions); locally, AWS_ENDPOINT_URL_S3 points the client
at `parley local`'s S3 front, so the links it makes are the front's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import BinaryIO

from shared.domain.errors import StorageUnavailableError
from shared.log import logger

ATTACHED_TAG = "parley-attached"  # "no" until a message holds the media; the lifecycle rule expires "no"


class ObjectMissing(Exception):
    """The object is not (or no longer) in the bucket."""


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


class MediaStore:
    def __init__(self, bucket: str, region: str) -> None:
        self.bucket = bucket
        self._region = region
        self._client = None
        self._lock = threading.Lock()

    def presigned_post(self, key: str, content_type: str, size: int, expires_seconds: int) -> PresignedPost:
        """A form upload S3 accepts only for this key, this content type and exactly this many bytes."""
        post = self._s3().generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires_seconds,
        )
        return PresignedPost(url=post["url"], fields=post["fields"])

    def presigned_get(
        self, key: str, expires_seconds: int, *, content_type: str, download_name: str | None = None
    ) -> str:
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentType": content_type}
        if download_name is not None:
            # Served as a download with the sender's name, never rendered in a browser as a page.
            quoted = download_name.replace("\\", "_").replace('"', "_")
            params["ResponseContentDisposition"] = f"attachment; filename=\"{quoted.encode('ascii', 'replace').decode()}\"" + (
                f"; filename*=UTF-8''{_rfc5987(download_name)}"
            )
        return self._s3().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_seconds)

    def read(self, key: str, max_bytes: int) -> bytes:
        """The object's bytes (at most max_bytes of them)."""
        response = self._call("GetObject", Key=key, Range=f"bytes=0-{max_bytes - 1}")
        return response["Body"].read()

    def download(self, key: str, into: BinaryIO) -> None:
        response = self._call("GetObject", Key=key)
        for chunk in response["Body"].iter_chunks(1024 * 1024):
            into.write(chunk)

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        self._call("PutObject", Key=key, Body=data, ContentType=content_type, Tagging=f"{ATTACHED_TAG}=no")

    def copy(self, source_key: str, key: str, content_type: str) -> None:
        self._call(
            "CopyObject",
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": source_key},
            ContentType=content_type,
            MetadataDirective="REPLACE",
            Tagging=f"{ATTACHED_TAG}=no",
            TaggingDirective="REPLACE",
        )

    def mark_attached(self, keys: list[str]) -> None:
        """Takes the objects out of the unattached-upload expiry."""
        for key in keys:
            self._call("PutObjectTagging", Key=key, Tagging={"TagSet": [{"Key": ATTACHED_TAG, "Value": "yes"}]})

    def delete(self, keys: list[str]) -> None:
        for key in keys:  # deleting a missing key succeeds: safe to repeat
            self._call("DeleteObject", Key=key)

    def _call(self, operation: str, **params):
        client = self._s3()
        method = getattr(client, _SNAKE[operation])
        try:
            return method(Bucket=self.bucket, **params)
        except client.exceptions.NoSuchKey:
            raise ObjectMissing(params.get("Key")) from None
        except client.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "InvalidRange"):
                raise ObjectMissing(params.get("Key")) from None
            logger.warning("s3 call failed", extra={"operation": operation, "code": code})
            raise StorageUnavailableError("media storage is unavailable, retry shortly") from error

    def _s3(self):
        with self._lock:
            if self._client is None:
                from botocore.config import Config

                from shared.storage.aws import botocore_session

                self._client = botocore_session().create_client(
                    "s3",
                    region_name=self._region,
                    config=Config(
                        signature_version="s3v4",
                        connect_timeout=2,
                        read_timeout=10,
                        retries={"max_attempts": 3, "mode": "standard"},
                    ),
                )
            return self._client


_SNAKE = {
    "GetObject": "get_object",
    "PutObject": "put_object",
    "CopyObject": "copy_object",
    "PutObjectTagging": "put_object_tagging",
    "DeleteObject": "delete_object",
}


def _rfc5987(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
