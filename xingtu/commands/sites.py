"""Placeholder: replaced by the real command module."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
