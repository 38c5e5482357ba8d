"""S3 ObjectCreated under uploads/audio/: judge the upload, keep what passes, tell the uploader's devices."""

from shared.adapters.s3_trigger import StoredObject, s3_trigger
from shared.services.media import process_upload
from shared.wiring import media


@s3_trigger
def handler(stored: StoredObject) -> None:
    process_upload(media(), "audio", stored.key)
