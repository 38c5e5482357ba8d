"""The CDK app: `npx cdk synth` (cdk.json runs `python -m infra.app`), or `python infra/app.py`.

Context (cdk.json, or -c key=value):
  redis=true|false              deploy the VPC and the Valkey cache (default true)
  jwks_url=https://…            verify RS256 tokens through this JWKS; else an HS256 secret is created
  jwt_issuer=…, jwt_audience=…  optional claims to require
  cors_origins=https://a,https://b   origins allowed by the HTTP API (default *)
  web=true|false                deploy the web client (web/dist: `bash web/build.sh`) on S3 + CloudFront (default false)
"""

from __future__ import annotations

import json
import os
import sys

if not __package__:
    # Run as a script: infra/ is then first on sys.path and infra/constructs would shadow the
    # `constructs` library. Put the repository root there instead.
    _infra = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _infra]
    sys.path.insert(0, os.path.dirname(_infra))

# jsii prints a large banner on every run under Node 20 (past its end of life, still working); this
# only silences that one version, newer Node versions are not affected.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.stack import ParleySettings, ParleyStack  # noqa: E402

STACK_NAME = "Parley"
CDK_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cdk.json")


def cdk_json_context() -> dict:
    """cdk.json's context (feature flags, defaults): the CLI passes it, a direct run or a test does not."""
    with open(CDK_JSON, encoding="utf-8") as file:
        return json.load(file).get("context", {})


def build_app(
    context: dict | None = None, outdir: str | None = None, **stack_options
) -> tuple[cdk.App, ParleyStack]:
    # Context given here is a default: what the CLI passes (cdk.json, -c key=value) takes precedence.
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    # No env: the template works in any account and region (no lookups, no credentials to synth).
    stack = ParleyStack(app, STACK_NAME, settings=ParleySettings.from_context(app.node), **stack_options)
    # cdk-nag runs after synthesis; an unacknowledged finding fails `cdk synth`.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    from infra.constructs.layers import FAILED_BUNDLING

    try:
        app, _ = build_app()
        app.synth()
    except Exception:
        if not FAILED_BUNDLING:
            raise
        # layers/build.py has printed one line saying what to do; jsii's traceback would only bury it.
        sys.exit(1)


if __name__ == "__main__":
    main()
