"""A deployment configuration that cannot be used, and how its problems are told (every wrong key)."""

from __future__ import annotations

from pydantic import ValidationError


class ConfigError(Exception):
    """A deployment configuration that cannot be used; the message names every wrong key."""


def format_errors(source: str, error: ValidationError) -> str:
    lines = [f"invalid deployment configuration {source}:"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "enum":
            message = f"{message} (got {item['input']!r})"
        lines.append(f"  - {location}: {message}")
    return "\n".join(lines)
