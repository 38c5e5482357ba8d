"""Lambda entry points: one module per endpoint, each a thin adapter over a service in shared/."""
