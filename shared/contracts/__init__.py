"""Parley's machine-readable contracts: the OpenAPI 3.1 document of the HTTP API and the AsyncAPI 3 document
of the WebSocket frames, both generated (shared/contracts/generate.py) from the route table
(shared/routes.py) and the schemas of shared/contracts/schemas.py, which quote the code's own limits,
patterns and enums. openapi.json and asyncapi.json beside this file are the generated copies: the
openapi_document function serves the first, and tests/unit/test_contracts.py fails when either is stale.

Regenerate: .venv/bin/python -m shared.contracts.generate
"""
