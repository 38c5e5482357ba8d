"""GET /media/{id}: short-lived download links, for the uploader and the conversation's participants."""

from shared.adapters.http import HttpRequest, http_endpoint
from shared.services.media import download_links
from shared.wiring import conversations, media


@http_endpoint
def handler(request: HttpRequest) -> tuple[int, dict]:
    def is_participant(user_id: str, conversation_id: str) -> bool:
        return user_id in (conversations().participants(conversation_id) or ())

    links = download_links(media(), request.user_id, request.path_params.get("id", ""), is_participant)
    return 200, links.to_dict()
