"""WebSocket $connect authorizer: ?token=<JWT> -> allow with the user id, or deny (handshake refused)."""

from shared import metrics
from shared.domain.errors import UnauthorizedError
from shared.observability import identify, lambda_handler
from shared.wiring import token_verifier


def _policy(principal: str, effect: str, resource: str) -> dict:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


@lambda_handler
def handler(event: dict, context: object) -> dict:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        user_id = token_verifier().user_id(token)
    except UnauthorizedError:
        metrics.count(metrics.AUTHORIZER_REFUSALS)
        return _policy("anonymous", "Deny", event["methodArn"])
    identify(user_id)
    # The context reaches $connect and every later message of this connection.
    return {**_policy(user_id, "Allow", event["methodArn"]), "context": {"user_id": user_id}}
