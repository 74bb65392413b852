"""Small repair-record tables for the after-sales tests."""

from __future__ import annotations

import pandas as pd
import pytest


def records(rows: list[tuple]) -> pd.DataFrame:
    """Repair records from ``(shop, serial, model, received, returned, fault, parts, labour,
    warranty, rating)`` tuples (warranty_end one year after 2024-06-01 unless given as 11th).
    """
    columns = ["shop_id", "serial", "model", "received", "returned", "fault_code", "parts_cost",
               "labour_cost", "warranty", "customer_rating"]
    frame = pd.DataFrame([r[:10] for r in rows], columns=columns)
    frame["received"] = pd.to_datetime(frame["received"])
    frame["returned"] = pd.to_datetime(frame["returned"])
    frame["warranty"] = frame["warranty"].astype(bool)
    frame["warranty_end"] = pd.to_datetime([r[10] if len(r) > 10 else "2025-06-01"
                                            for r in rows])
    return frame


@pytest.fixture
def tiny_records() -> pd.DataFrame:
    """Two shops, five repairs; every factor is worked out by hand in the tests."""
    return records([
        ("A", "s1", "M1", "2025-01-01", "2025-01-03", "SCREEN", 100.0, 50.0, True, 5),
        ("A", "s1", "M1", "2025-01-20", "2025-01-21", "SCREEN", 100.0, 50.0, True, 3),
        ("A", "s2", "M1", "2025-03-01", "2025-03-05", "BATTERY", 60.0, 20.0, False, None),
        ("B", "s3", "M1", "2025-02-01", "2025-02-02", "SCREEN", 200.0, 100.0, False, 4),
        ("B", "s4", "M1", "2025-06-01", "2025-06-04", "BATTERY", 80.0, 40.0, False, 2),
    ])


@pytest.fixture(scope="session")
def demo_repairs():
    """The demo region's repair records with the planted abuses (generated once)."""
    from geodata.demo_repairs import load_demo_repairs

    return load_demo_repairs()


@pytest.fixture
def make_records():
    """The :func:`records` builder, for tests that assemble their own records."""
    return records
