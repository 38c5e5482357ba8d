"""HTTP API Lambda authorizer (payload 2.0, simple responses): Bearer JWT -> the caller's user id.

A bad token is let through with its reason instead of denied: API Gateway can only answer a denial with
403 Forbidden, while the contract promises 401 with an error body. Every endpoint requires `user_id`
(shared/adapters/http.py) and answers that 401 itself. A missing header never gets here: API Gateway answers 401.
"""

from shared import metrics
from shared.auth import bearer_token
from shared.domain.errors import UnauthorizedError
from shared.observability import identify, lambda_handler
from shared.wiring import token_verifier


@lambda_handler
def handler(event: dict, context: object) -> dict:
    token = bearer_token((event.get("headers") or {}).get("authorization"))
    try:
        user_id = token_verifier().user_id(token)
    except UnauthorizedError as error:
        metrics.count(metrics.AUTHORIZER_REFUSALS)
        return {"isAuthorized": True, "context": {"auth_error": error.message}}
    identify(user_id)
    return {"isAuthorized": True, "context": {"user_id": user_id}}
