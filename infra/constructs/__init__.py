"""Parley's CDK constructs, one module per concern; infra/stack.py composes them."""


def pascal_case(name: str) -> str:
    """`send_message` -> `SendMessage`: construct ids from route and table names."""
    return "".join(part.capitalize() for part in name.split("_"))
