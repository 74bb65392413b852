"""Every command-line test saves into its own database, never the user's default one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``XINGTU_DATABASE_URL`` at a SQLite file of this test."""
    url = f"sqlite:///{tmp_path / 'default.sqlite'}"
    monkeypatch.setenv("XINGTU_DATABASE_URL", url)
    return url
