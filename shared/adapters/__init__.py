"""Adapters: API Gateway (HTTP, WebSocket) and trigger events (streams, S3) in; responses and frames out."""
