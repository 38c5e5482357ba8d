"""POST /messages/upload-audio: 201 with a pending media record and a presigned POST for the upload."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.media.policy import UploadRequest
from shared.services.media import request_upload
from shared.wiring import media


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    upload = UploadRequest.from_body("audio", request.json_body())
    return 201, request_upload(media(), request.user_id, upload).to_dict()
