"""Saved state: scenarios, survey statuses, weekly plans, app pages' state and uploads in a database.

SQLite by default (``xingtu.sqlite`` in the user's data folder, see :func:`default_database_url`);
any SQLAlchemy URL works (PostgreSQL: ``postgresql+psycopg://user@host/xingtu``). The URL comes from
the ``url`` argument, then the ``XINGTU_DATABASE_URL`` environment variable, then the default.

Tables are stored as Parquet bytes, so a DataFrame comes back exactly as it was saved (columns,
dtypes, index; a GeoDataFrame comes back as a GeoDataFrame). Dictionaries (KPIs, solve reports,
parameters) are stored as JSON: numpy numbers become Python numbers, tuples become lists and keys
become strings.

Every write runs in one transaction. On SQLite the database runs in WAL mode with a busy timeout and
write transactions start with ``BEGIN IMMEDIATE``, so two browser sessions (or two processes) saving
at once wait for each other instead of failing or losing work.

Nothing is overwritten: saving a scenario under a name that exists adds a new *version* of it
(``load_scenario(name)`` returns the latest, older versions stay listed); saving a plan for a week
that has one adds a newer plan (``load_plan(week)`` returns the latest); a new survey status is
appended to the site's history (``survey_statuses()`` shows the latest per site).

The schema carries a version number. :data:`MIGRATIONS` is an ordered list of functions; opening a
store applies those not yet applied, each in its own transaction, so an older database is upgraded
in place.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from optimizer.errors import XingtuError

SurveyStatus = Literal["candidate", "surveyed", "approved", "rejected"]
"""Field-survey steps of a candidate site: proposed, visited, approved or rejected by a person."""

SURVEY_STATUSES: tuple[str, ...] = get_args(SurveyStatus)

ENV_VAR = "XINGTU_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_S = 30.0
SAVE_ATTEMPTS = 5


class DatabaseError(XingtuError):
    """The database cannot be opened, or a saved item does not exist; the message says what to do."""


def database_url(url: str | None = None) -> str:
    """Return the database URL in force: ``url``, else ``XINGTU_DATABASE_URL``, else the default.

    This is the one place the environment variable is read (the CLI's ``--database`` and the
    app both come through here).

    Parameters
    ----------
    url
        An explicit SQLAlchemy URL, e.g. from ``--database``.

    Returns
    -------
    str
        The URL to open.

    Examples
    --------
    >>> database_url("sqlite://")
    'sqlite://'
    """
    return url or os.environ.get(ENV_VAR) or default_database_url()


def default_database_url() -> str:
    """URL of the default database: a SQLite file in the user's data folder.

    Returns
    -------
    str
        ``sqlite:///<user data dir>/xingtu.sqlite`` (the folder is created when the store opens).

    Examples
    --------
    >>> default_database_url().startswith("sqlite:///")
    True
    """
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('xingtu')) / 'xingtu.sqlite'}"


# --------------------------------------------------------------------------------------------
# Schema migrations: ordered; migration i brings the schema from version i to version i + 1.
# Each is written against the schema of its own time and never edited once released.
# --------------------------------------------------------------------------------------------


def _migration_1_initial(conn: Connection) -> None:
    """Plans, scenarios (one row per save) and survey status history."""
    metadata = sa.MetaData()
    sa.Table(
        "plans", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("week", sa.String(32), nullable=False, index=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("lines", sa.LargeBinary, nullable=False),
        sa.Column("kpis", sa.Text, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    sa.Table(
        "scenarios", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("sites", sa.LargeBinary, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    sa.Table(
        "survey_status", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    metadata.create_all(conn)


def _migration_2_versions_and_users(conn: Connection) -> None:
    """Give the saves of one scenario name numbers (1, 2, ...); record who set a status."""
    conn.execute(sa.text("ALTER TABLE scenarios ADD COLUMN version INTEGER NOT NULL DEFAULT 1"))
    conn.execute(sa.text(
        "UPDATE scenarios SET version = (SELECT COUNT(*) FROM scenarios AS older "
        "WHERE older.name = scenarios.name AND older.id <= scenarios.id)"
    ))
    conn.execute(sa.text(
        "CREATE UNIQUE INDEX ux_scenarios_name_version ON scenarios (name, version)"
    ))
    conn.execute(sa.text(
        "ALTER TABLE survey_status ADD COLUMN user_name VARCHAR(200) NOT NULL DEFAULT ''"
    ))


def _migration_3_last_runs(conn: Connection) -> None:
    """Add the last run of each app page, to show it again in a new browser session."""
    metadata = sa.MetaData()
    sa.Table(
        "last_runs", metadata,
        sa.Column("page", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("sites", sa.LargeBinary, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    metadata.create_all(conn)


def _migration_4_page_states(conn: Connection) -> None:
    """Add the controls of each app page and its uploaded candidate list, for a new session."""
    metadata = sa.MetaData()
    sa.Table(
        "page_states", metadata,
        sa.Column("page", sa.String(64), primary_key=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("controls", sa.Text, nullable=False),
        sa.Column("candidates", sa.LargeBinary, nullable=True),
        sa.Column("candidates_source", sa.Text, nullable=False),
    )
    metadata.create_all(conn)


def _migration_5_kept_inputs(conn: Connection) -> None:
    """Add the user's uploaded tables, the team's layers and the battlefields chosen to site in."""
    metadata = sa.MetaData()
    sa.Table(
        "uploaded_tables", metadata,
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    sa.Table(
        "team_layers", metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("aggregation", sa.Text, nullable=False),
        sa.Column("columns", sa.LargeBinary, nullable=False),
    )
    sa.Table(
        "siting_areas", metadata,
        sa.Column("page", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("areas", sa.Text, nullable=False),
        sa.Column("cells", sa.LargeBinary, nullable=False),
        sa.Column("data_key", sa.Text, nullable=False),
    )
    metadata.create_all(conn)


MIGRATIONS: list[Callable[[Connection], None]] = [
    _migration_1_initial,
    _migration_2_versions_and_users,
    _migration_3_last_runs,
    _migration_4_page_states,
    _migration_5_kept_inputs,
]
"""Schema upgrades in order; the schema version is the number of migrations applied."""

SCHEMA_VERSION = len(MIGRATIONS)

# Current shape of the tables, for queries (the migrations above create them).
_metadata = sa.MetaData()
_version_table = sa.Table("schema_version", _metadata, sa.Column("version", sa.Integer, nullable=False))
_plans = sa.Table(
    "plans", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("week", sa.String),
    sa.Column("fingerprint", sa.String), sa.Column("created_at", sa.String),
    sa.Column("lines", sa.LargeBinary), sa.Column("kpis", sa.Text), sa.Column("report", sa.Text),
)
_scenarios = sa.Table(
    "scenarios", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String),
    sa.Column("version", sa.Integer), sa.Column("created_at", sa.String),
    sa.Column("params", sa.Text), sa.Column("sites", sa.LargeBinary), sa.Column("summary", sa.Text),
)
_last_runs = sa.Table(
    "last_runs", _metadata,
    sa.Column("page", sa.String, primary_key=True), sa.Column("created_at", sa.String),
    sa.Column("fingerprint", sa.String), sa.Column("params", sa.Text),
    sa.Column("sites", sa.LargeBinary), sa.Column("summary", sa.Text),
)
_page_states = sa.Table(
    "page_states", _metadata,
    sa.Column("page", sa.String, primary_key=True), sa.Column("updated_at", sa.String),
    sa.Column("controls", sa.Text), sa.Column("candidates", sa.LargeBinary),
    sa.Column("candidates_source", sa.Text),
)
_uploaded = sa.Table(
    "uploaded_tables", _metadata,
    sa.Column("kind", sa.String, primary_key=True), sa.Column("created_at", sa.String),
    sa.Column("source", sa.Text), sa.Column("row_count", sa.Integer),
    sa.Column("data", sa.LargeBinary),
)
_team_layers = sa.Table(
    "team_layers", _metadata,
    sa.Column("name", sa.String, primary_key=True), sa.Column("created_at", sa.String),
    sa.Column("source", sa.Text), sa.Column("row_count", sa.Integer),
    sa.Column("aggregation", sa.Text), sa.Column("columns", sa.LargeBinary),
)
_siting_areas = sa.Table(
    "siting_areas", _metadata,
    sa.Column("page", sa.String, primary_key=True), sa.Column("created_at", sa.String),
    sa.Column("label", sa.Text), sa.Column("areas", sa.Text), sa.Column("cells", sa.LargeBinary),
    sa.Column("data_key", sa.Text),
)
_survey = sa.Table(
    "survey_status", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("site_id", sa.String),
    sa.Column("status", sa.String), sa.Column("note", sa.Text),
    sa.Column("user_name", sa.String), sa.Column("created_at", sa.String),
)


class SavedUpload(NamedTuple):
    """An uploaded table as kept in the database."""

    kind: str
    table: pd.DataFrame
    source: str
    rows: int
    created_at: str


class SavedTeamLayer(NamedTuple):
    """A team layer as kept in the database."""

    name: str
    columns: pd.DataFrame
    source: str
    rows: int
    aggregation: dict[str, str]
    created_at: str


class SavedAreas(NamedTuple):
    """The battlefields chosen to site in, as kept in the database."""

    label: str
    areas: list[str]
    cells: list[int]
    data_key: str
    created_at: str


class Database:
    """Saved scenarios, survey statuses and weekly plans in one database.

    Parameters
    ----------
    url
        Any SQLAlchemy URL. Default: the ``XINGTU_DATABASE_URL`` environment variable, else a SQLite
        file in the user's data folder (:func:`default_database_url`).

    Raises
    ------
    DatabaseError
        The URL is malformed, names a database driver that is not installed, or the database
        cannot be reached.

    Examples
    --------
    >>> import pandas as pd
    >>> store = Database("sqlite://")
    >>> plan_id = store.save_plan("2026-W48", "abc123", pd.DataFrame({"units": [4, 2]}),
    ...                           {"stockouts_after": 3}, {"status": "optimal"})
    >>> lines, kpis, report, fingerprint = store.load_plan("2026-W48")
    >>> int(lines["units"].sum()), kpis["stockouts_after"], fingerprint
    (6, 3, 'abc123')
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine = _create_engine(self.url)
        try:
            _upgrade(self.engine)
        except SQLAlchemyError as error:
            self.engine.dispose()
            raise DatabaseError(
                f"Cannot open the database {_safe_url(self.url)}: {error.__class__.__name__}: "
                f"{_first_line(error)}. Check that the server is running and the URL is right, "
                f"or unset `{ENV_VAR}` to use the default SQLite file."
            ) from error

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({_safe_url(self.url)!r})"

    def schema_version(self) -> int:
        """Version of the database schema (the number of migrations applied).

        Examples
        --------
        >>> Database("sqlite://").schema_version() == SCHEMA_VERSION
        True
        """
        with self.engine.connect() as conn:
            return _read_version(conn)

    def check_writable(self) -> None:
        """Raise :class:`DatabaseError` now if a save would fail (read-only, locked, gone).

        Runs a write that changes nothing and rolls it back, so a run can stop before it
        writes any file when its row could not be saved.

        Examples
        --------
        >>> Database("sqlite://").check_writable()
        """
        try:
            with self.engine.connect() as conn:
                transaction = conn.begin()
                conn.execute(_version_table.update().values(version=_version_table.c.version))
                transaction.rollback()
        except SQLAlchemyError as error:
            raise DatabaseError(
                f"Cannot write to the database {_safe_url(self.url)}: "
                f"{error.__class__.__name__}: {_first_line(error)}. Check that it is writable and "
                f"not held by another program, or give another --database."
            ) from error

    # -- weekly plans --------------------------------------------------------------------------

    def save_plan(self, week: str, fingerprint: str, lines: pd.DataFrame, kpis: dict,
                  report: dict) -> int:
        """Save a weekly plan; an earlier plan of the same week stays (the newest wins on load).

        Parameters
        ----------
        week
            The plan's week, e.g. ``"2026-W48"``.
        fingerprint
            Hash of the plan's inputs, to tell whether a saved plan is still current.
        lines
            The plan lines (transfers and replenishments), stored exactly.
        kpis
            Key figures (stockouts before/after, transfer rate, ...), JSON-serialisable values.
        report
            How the solve went (e.g. a :class:`~optimizer.results.SolveReport` as a dict).

        Returns
        -------
        int
            The plan's id.

        Examples
        --------
        >>> Database("sqlite://").save_plan("2026-W01", "f", pd.DataFrame({"a": [1]}), {}, {})
        1
        """
        _require_text(week, "week")
        row = {"week": week, "fingerprint": str(fingerprint), "created_at": _now(),
               "lines": frame_to_bytes(lines, "lines"), "kpis": _dumps(kpis, "kpis"),
               "report": _dumps(report, "report")}
        with self._write() as conn:
            return _new_id(conn.execute(_plans.insert().values(**row)))

    def load_plan(self, week: str | int) -> tuple[pd.DataFrame, dict, dict, str]:
        """Load the latest plan saved for a week, or a plan by its id.

        Parameters
        ----------
        week
            Week label (``"2026-W48"``) for the latest plan of that week, or an ``int`` plan id.

        Returns
        -------
        tuple
            ``(lines, kpis, report, fingerprint)``.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> _ = store.save_plan("2026-W48", "old", pd.DataFrame({"a": [1]}), {}, {})
        >>> _ = store.save_plan("2026-W48", "new", pd.DataFrame({"a": [2]}), {}, {})
        >>> store.load_plan("2026-W48")[3], store.load_plan(1)[3]
        ('new', 'old')
        """
        query = sa.select(_plans.c.lines, _plans.c.kpis, _plans.c.report, _plans.c.fingerprint)
        if _is_id(week):
            query = query.where(_plans.c.id == int(week))
        else:
            query = query.where(_plans.c.week == str(week)).order_by(_plans.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            saved = ", ".join(self.list_plans()["week"].drop_duplicates().astype(str)) or "none yet"
            raise DatabaseError(f"No weekly plan saved for `week`={week!r}. Saved weeks: {saved}. "
                             "Run the allocation for that week and save it first.")
        return bytes_to_frame(row.lines), json.loads(row.kpis), json.loads(row.report), row.fingerprint

    def delete_plan(self, plan_id: int) -> None:
        """Remove a saved plan by id (a run whose files could not be written takes it back).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.delete_plan(store.save_plan("2026-W01", "f", pd.DataFrame({"a": [1]}), {}, {}))
        >>> len(store.list_plans())
        0
        """
        with self._write() as conn:
            conn.execute(_plans.delete().where(_plans.c.id == int(plan_id)))

    def list_plans(self) -> pd.DataFrame:
        """All saved plans, newest first: ``id``, ``week``, ``fingerprint``, ``created_at``.

        Examples
        --------
        >>> Database("sqlite://").list_plans().columns.tolist()
        ['id', 'week', 'fingerprint', 'created_at']
        """
        query = sa.select(_plans.c.id, _plans.c.week, _plans.c.fingerprint,
                          _plans.c.created_at).order_by(_plans.c.id.desc())
        return self._table(query, ["id", "week", "fingerprint", "created_at"])

    # -- scenarios -----------------------------------------------------------------------------

    def save_scenario(self, name: str, params: dict, sites: pd.DataFrame, summary: dict) -> int:
        """Save a siting run under a name; saving a name again adds a new version (1, 2, ...).

        Parameters
        ----------
        name
            Scenario name shown to the user.
        params
            The run's settings (layers, weights, N, radius, budget, model), JSON-serialisable.
        sites
            The chosen sites (a DataFrame or GeoDataFrame), stored exactly.
        summary
            Headline figures (coverage, expected sales, cost), JSON-serialisable.

        Returns
        -------
        int
            The saved version's id.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.save_scenario("north", {"n": 3}, pd.DataFrame({"cell": [1, 2]}), {"cost": 9.5})
        1
        >>> store.save_scenario("north", {"n": 4}, pd.DataFrame({"cell": [1]}), {"cost": 3.0})
        2
        >>> store.list_scenarios()[["name", "version"]].values.tolist()
        [['north', 2], ['north', 1]]
        """
        _require_text(name, "name")
        payload: dict[str, Any] = {"name": name, "created_at": _now(), "params": _dumps(params, "params"),
                   "sites": frame_to_bytes(sites, "sites"), "summary": _dumps(summary, "summary")}
        for attempt in range(SAVE_ATTEMPTS):
            try:
                with self._write() as conn:
                    # On SQLite the write lock is held here; elsewhere the unique (name, version)
                    # index refuses a number another session took meanwhile, and we try again.
                    latest = conn.execute(sa.select(sa.func.max(_scenarios.c.version))
                                          .where(_scenarios.c.name == name)).scalar()
                    payload["version"] = int(latest or 0) + 1
                    inserted = conn.execute(_scenarios.insert().values(**payload))
                    return _new_id(inserted)
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def delete_scenario(self, scenario_id: int) -> None:
        """Remove one saved scenario version by id.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.delete_scenario(store.save_scenario("a", {}, pd.DataFrame({"c": [1]}), {}))
        >>> store.list_scenarios().empty
        True
        """
        with self._write() as conn:
            conn.execute(_scenarios.delete().where(_scenarios.c.id == int(scenario_id)))

    def list_scenarios(self) -> pd.DataFrame:
        """All saved scenarios, newest first: ``id``, ``name``, ``version``, ``created_at``.

        Examples
        --------
        >>> Database("sqlite://").list_scenarios().empty
        True
        """
        query = sa.select(_scenarios.c.id, _scenarios.c.name, _scenarios.c.version,
                          _scenarios.c.created_at).order_by(_scenarios.c.id.desc())
        return self._table(query, ["id", "name", "version", "created_at"])

    def load_scenario(self, name_or_id: str | int, version: int | None = None,
                      ) -> tuple[dict, pd.DataFrame, dict]:
        """Load a scenario by name (latest version, or ``version``) or by id.

        Parameters
        ----------
        name_or_id
            Scenario name, or an ``int`` id from :meth:`list_scenarios`.
        version
            A specific version of a named scenario; default the latest.

        Returns
        -------
        tuple
            ``(params, sites, summary)``.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> _ = store.save_scenario("a", {"n": 1}, pd.DataFrame({"cell": [7]}), {})
        >>> params, sites, summary = store.load_scenario("a")
        >>> params, sites["cell"].tolist()
        ({'n': 1}, [7])
        """
        query = sa.select(_scenarios.c.params, _scenarios.c.sites, _scenarios.c.summary)
        if _is_id(name_or_id):
            query = query.where(_scenarios.c.id == int(name_or_id))
        else:
            query = query.where(_scenarios.c.name == str(name_or_id))
            if version is not None:
                query = query.where(_scenarios.c.version == int(version))
            query = query.order_by(_scenarios.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            saved = ", ".join(self.list_scenarios()["name"].drop_duplicates().astype(str))
            which = f"{name_or_id!r}" + (f" version {version}" if version is not None else "")
            raise DatabaseError(f"No scenario {which} is saved. Saved scenarios: {saved or 'none yet'}.")
        return json.loads(row.params), bytes_to_frame(row.sites), json.loads(row.summary)

    # -- last run of a page ------------------------------------------------------------------

    def save_last_run(self, page: str, fingerprint: str, params: dict, sites: pd.DataFrame,
                      summary: dict) -> None:
        """Keep a page's last run (one per page: the previous one is replaced).

        Parameters
        ----------
        page
            The page, e.g. ``"site_selection"``.
        fingerprint
            Hash of the data the run used, to tell later whether it still holds.
        params
            The page's settings of the run, JSON-serialisable.
        sites
            The run's result table, stored exactly.
        summary
            Its headline figures, JSON-serialisable.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.save_last_run("p", "f1", {"n": 3}, pd.DataFrame({"cell": [1]}), {})
        >>> store.save_last_run("p", "f2", {"n": 4}, pd.DataFrame({"cell": [2]}), {})
        >>> params, sites, summary, fingerprint, _ = store.load_last_run("p")
        >>> params, sites["cell"].tolist(), fingerprint
        ({'n': 4}, [2], 'f2')
        """
        _require_text(page, "page")
        row = {"page": page, "created_at": _now(), "fingerprint": str(fingerprint),
               "params": _dumps(params, "params"), "sites": frame_to_bytes(sites, "sites"),
               "summary": _dumps(summary, "summary")}
        self._replace_row(_last_runs, "page", row)

    def load_last_run(self, page: str) -> tuple[dict, pd.DataFrame, dict, str, str] | None:
        """Return a page's last run, ``(params, sites, summary, fingerprint, created_at)``.

        ``None`` when the page has no run saved.

        Examples
        --------
        >>> Database("sqlite://").load_last_run("site_selection") is None
        True
        """
        row = self._row(_last_runs, "page", page)
        if row is None:
            return None
        return (json.loads(row.params), bytes_to_frame(row.sites), json.loads(row.summary),
                row.fingerprint, row.created_at)

    # -- controls of a page ------------------------------------------------------------------

    def save_page_controls(self, page: str, controls: dict) -> None:
        """Keep the values of a page's controls (one set per page: the previous one is replaced).

        Parameters
        ----------
        page
            The page, e.g. ``"site_selection"``.
        controls
            Control key -> value, JSON-serialisable.

        Raises
        ------
        DatabaseError
            The controls cannot be stored, or the database refuses the write.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.save_page_controls("p", {"n": 3})
        >>> store.save_page_controls("p", {"n": 4})
        >>> store.load_page_state("p")[0]
        {'n': 4}
        """
        self._save_page_state(page, {"controls": _dumps(controls, "controls")})

    def save_page_candidates(self, page: str, candidates: pd.DataFrame | None,
                             source: str = "") -> None:
        """Keep a page's uploaded candidate list (``None`` forgets it); its controls stay.

        Parameters
        ----------
        page
            The page, e.g. ``"site_selection"``.
        candidates
            The checked candidate table, stored exactly; ``None`` when the page has none.
        source
            Where it came from (the uploaded file's name).

        Raises
        ------
        DatabaseError
            The table cannot be stored, or the database refuses the write.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.save_page_candidates("p", pd.DataFrame({"lat": [22.5], "lng": [114.0]}), "a.csv")
        >>> controls, candidates, source = store.load_page_state("p")
        >>> controls, len(candidates), source
        ({}, 1, 'a.csv')
        """
        data = None if candidates is None else frame_to_bytes(candidates, "candidates")
        self._save_page_state(page, {"candidates": data,
                                     "candidates_source": str(source) if data else ""})

    def load_page_state(self, page: str) -> tuple[dict, pd.DataFrame | None, str] | None:
        """Return a page's kept controls and candidate list, ``(controls, candidates, source)``.

        ``None`` when nothing is kept for the page; ``candidates`` is ``None`` when it has no list.

        Examples
        --------
        >>> Database("sqlite://").load_page_state("site_selection") is None
        True
        """
        row = self._row(_page_states, "page", page)
        if row is None:
            return None
        candidates = None if row.candidates is None else bytes_to_frame(row.candidates)
        return json.loads(row.controls), candidates, row.candidates_source

    def _save_page_state(self, page: str, values: dict[str, Any]) -> None:
        """Update some columns of a page's row in ``page_states``, adding the row if missing."""
        _require_text(page, "page")
        values = {**values, "updated_at": _now()}
        new_row = {"page": page, "controls": "{}", "candidates": None, "candidates_source": "",
                   **values}
        for attempt in range(SAVE_ATTEMPTS):
            try:
                with self._write() as conn:
                    updated = conn.execute(_page_states.update()
                                           .where(_page_states.c.page == page).values(**values))
                    if not updated.rowcount:
                        conn.execute(_page_states.insert().values(**new_row))
                return
            except IntegrityError:  # another session added the row meanwhile: update it
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
            except SQLAlchemyError as error:
                raise DatabaseError(
                    f"Cannot keep the controls of the page {page!r} in the database "
                    f"{_safe_url(self.url)}: {error.__class__.__name__}: {_first_line(error)}."
                ) from error

    # -- the user's uploaded tables, the team's layers, the battlefields chosen --------------

    def save_upload(self, kind: str, table: pd.DataFrame, source: str) -> str:
        """Keep an uploaded table of one kind (one per kind: the previous one is replaced).

        Parameters
        ----------
        kind
            What the table holds (``"stores"``, ``"pois"``...).
        table
            The checked table, stored exactly (a GeoDataFrame stays one).
        source
            The uploaded file's name.

        Returns
        -------
        str
            When it was saved (ISO 8601, UTC).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> _ = store.save_upload("stores", pd.DataFrame({"lat": [22.5]}), "a.csv")
        >>> [(u.kind, u.source, u.rows) for u in store.load_uploads()]
        [('stores', 'a.csv', 1)]
        """
        _require_text(kind, "kind")
        row = {"kind": kind, "created_at": _now(), "source": str(source),
               "row_count": len(table), "data": frame_to_bytes(table, "table")}
        return self._replace_row(_uploaded, "kind", row)

    def load_uploads(self) -> list[SavedUpload]:
        """Return the kept uploaded tables, one per kind, sorted by kind.

        Examples
        --------
        >>> Database("sqlite://").load_uploads()
        []
        """
        return [SavedUpload(kind=row.kind, table=bytes_to_frame(row.data), source=row.source,
                            rows=int(row.row_count), created_at=row.created_at)
                for row in self._rows(_uploaded, "kind")]

    def delete_uploads(self, kinds: Sequence[str] | None = None) -> None:
        """Forget the kept uploaded tables of ``kinds`` (all of them when ``None``).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> _ = store.save_upload("stores", pd.DataFrame({"lat": [22.5]}), "a.csv")
        >>> store.delete_uploads(["stores"])
        >>> store.load_uploads()
        []
        """
        self._delete_rows(_uploaded, "kind", kinds)

    def save_team_layer(self, name: str, columns: pd.DataFrame, source: str, rows: int,
                        aggregation: dict[str, str]) -> str:
        """Keep a layer the team brought (one per name: a layer of the same name is replaced).

        Parameters
        ----------
        name
            The layer's name.
        columns
            Its column(s) per cell (index: the H3 cells), stored exactly.
        source
            The file it came from.
        rows
            Rows of that file.
        aggregation
            How each column becomes one value per battlefield area.

        Returns
        -------
        str
            When it was saved (ISO 8601, UTC).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> _ = store.save_team_layer("fit", pd.DataFrame({"fit": [0.5]}), "f.csv", 3,
        ...                           {"fit": "mean"})
        >>> [(t.name, t.rows, t.aggregation) for t in store.load_team_layers()]
        [('fit', 3, {'fit': 'mean'})]
        """
        _require_text(name, "name")
        row = {"name": name, "created_at": _now(), "source": str(source), "row_count": int(rows),
               "aggregation": _dumps(aggregation, "aggregation"),
               "columns": frame_to_bytes(columns, "columns")}
        return self._replace_row(_team_layers, "name", row)

    def load_team_layers(self) -> list[SavedTeamLayer]:
        """Return the kept team layers in the order they were saved (oldest first).

        Examples
        --------
        >>> Database("sqlite://").load_team_layers()
        []
        """
        return [SavedTeamLayer(name=row.name, columns=bytes_to_frame(row.columns),
                               source=row.source, rows=int(row.row_count),
                               aggregation=json.loads(row.aggregation),
                               created_at=row.created_at)
                for row in self._rows(_team_layers, "created_at", "name")]

    def delete_team_layers(self, names: Sequence[str] | None = None) -> None:
        """Forget the kept team layers of ``names`` (all of them when ``None``).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.delete_team_layers()
        >>> store.load_team_layers()
        []
        """
        self._delete_rows(_team_layers, "name", names)

    def save_siting_areas(self, page: str, label: str, areas: Sequence[str],
                          cells: Sequence[int], data_key: str) -> str:
        """Keep the battlefields chosen to site in (one choice per page: the previous replaced).

        Parameters
        ----------
        page
            The page that uses the choice, e.g. ``"site_selection"``.
        label
            The areas' names as shown.
        areas
            The areas' ids.
        cells
            The H3 cells (``int``) of those areas.
        data_key
            What identifies the data they were chosen on.

        Returns
        -------
        str
            When it was saved (ISO 8601, UTC).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> _ = store.save_siting_areas("p", "Foshan", ["a1"], [613196571542028287], "demo|")
        >>> saved = store.load_siting_areas("p")
        >>> saved.label, saved.areas, saved.cells
        ('Foshan', ['a1'], [613196571542028287])
        """
        _require_text(page, "page")
        cell_table = pd.DataFrame({"cell": np.asarray(list(cells), dtype=np.uint64)})
        row = {"page": page, "created_at": _now(), "label": str(label),
               "areas": json.dumps([str(a) for a in areas], ensure_ascii=False),
               "cells": frame_to_bytes(cell_table, "cells"), "data_key": str(data_key)}
        return self._replace_row(_siting_areas, "page", row)

    def load_siting_areas(self, page: str) -> SavedAreas | None:
        """Return the battlefields kept for ``page``, ``None`` when none are.

        Examples
        --------
        >>> Database("sqlite://").load_siting_areas("site_selection") is None
        True
        """
        row = self._row(_siting_areas, "page", page)
        if row is None:
            return None
        cells = bytes_to_frame(row.cells)["cell"].to_numpy(dtype=np.uint64)
        return SavedAreas(label=row.label, areas=json.loads(row.areas),
                          cells=[int(c) for c in cells], data_key=row.data_key,
                          created_at=row.created_at)

    def delete_siting_areas(self, page: str) -> None:
        """Forget the battlefields kept for ``page``.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.delete_siting_areas("site_selection")
        """
        self._delete_rows(_siting_areas, "page", [page])

    # -- field survey ------------------------------------------------------------------------

    def set_survey_status(self, cell_or_site_id: str, status: SurveyStatus, note: str = "",
                          user: str = "") -> None:
        """Record the field-survey status of a candidate cell or site (kept with its history).

        Parameters
        ----------
        cell_or_site_id
            The candidate: an H3 cell (string form) or a site id.
        status
            ``"candidate"``, ``"surveyed"``, ``"approved"`` or ``"rejected"``.
        note
            What the surveyor saw.
        user
            Who set the status.

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.set_survey_status("881f1d4a8bfffff", "approved", note="corner unit", user="li")
        >>> store.survey_statuses()[["site_id", "status"]].values.tolist()
        [['881f1d4a8bfffff', 'approved']]
        """
        _require_text(str(cell_or_site_id), "cell_or_site_id")
        if status not in SURVEY_STATUSES:
            raise DatabaseError(f"`status`={status!r} is not a survey status; use one of "
                             f"{', '.join(SURVEY_STATUSES)}.")
        row = {"site_id": str(cell_or_site_id), "status": status, "note": str(note),
               "user_name": str(user), "created_at": _now()}
        with self._write() as conn:
            conn.execute(_survey.insert().values(**row))

    def survey_statuses(self, *, history: bool = False) -> pd.DataFrame:
        """Return the latest survey status of every candidate (every change with ``history=True``).

        Returns
        -------
        pandas.DataFrame
            ``site_id``, ``status``, ``note``, ``user``, ``updated_at``; sorted by ``site_id``
            (history: oldest change first).

        Examples
        --------
        >>> store = Database("sqlite://")
        >>> store.set_survey_status("s1", "surveyed")
        >>> store.set_survey_status("s1", "rejected", note="no parking")
        >>> store.survey_statuses()[["status", "note"]].values.tolist()
        [['rejected', 'no parking']]
        >>> len(store.survey_statuses(history=True))
        2
        """
        columns = [_survey.c.site_id, _survey.c.status, _survey.c.note,
                   _survey.c.user_name.label("user"), _survey.c.created_at.label("updated_at")]
        if history:
            query = sa.select(*columns).order_by(_survey.c.id)
        else:
            latest = sa.select(sa.func.max(_survey.c.id)).group_by(_survey.c.site_id)
            query = sa.select(*columns).where(_survey.c.id.in_(latest)).order_by(_survey.c.site_id)
        return self._table(query, ["site_id", "status", "note", "user", "updated_at"])

    # -- helpers -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _table(self, query: sa.Select, columns: list[str]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame([tuple(row) for row in rows], columns=columns)

    # The tables keyed by one column (a page, a kind, a name), one row a key: last runs, uploads,
    # team layers, battlefields. A row holds its Parquet bytes and their metadata.

    def _replace_row(self, table: sa.Table, key: str, row: dict[str, Any]) -> str:
        """Write ``row`` to ``table`` in place of the row of the same ``key``; return its date.

        One transaction deletes the old row and inserts the new one, so a reader sees either.
        """
        with self._write() as conn:
            conn.execute(table.delete().where(table.c[key] == row[key]))
            conn.execute(table.insert().values(**row))
        return str(row["created_at"])

    def _row(self, table: sa.Table, key: str, value: object) -> sa.Row[Any] | None:
        """Return the row of ``table`` whose ``key`` column is ``str(value)``, ``None`` if none."""
        query = sa.select(table).where(table.c[key] == str(value))
        with self.engine.connect() as conn:
            return conn.execute(query).first()

    def _rows(self, table: sa.Table, *order_by: str) -> Sequence[sa.Row[Any]]:
        """Return every row of ``table``, sorted by the columns ``order_by``."""
        query = sa.select(table).order_by(*(table.c[column] for column in order_by))
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def _delete_rows(self, table: sa.Table, key: str, values: Sequence[object] | None) -> None:
        """Delete the rows of ``table`` whose ``key`` column is one of ``values`` (all if ``None``)."""
        query = table.delete()
        if values is not None:
            query = query.where(table.c[key].in_([str(value) for value in values]))
        with self._write() as conn:
            conn.execute(query)


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def frame_to_bytes(frame: pd.DataFrame, name: str = "frame") -> bytes:
    """Serialise a DataFrame (or GeoDataFrame) to Parquet bytes that restore it exactly.

    Parameters
    ----------
    frame
        The table; its index and dtypes are kept.
    name
        Argument name used in error messages.

    Returns
    -------
    bytes
        Parquet file contents.

    Examples
    --------
    >>> frame = pd.DataFrame({"cell": pd.array([1, 2], dtype="uint64")})
    >>> bytes_to_frame(frame_to_bytes(frame)).dtypes["cell"]
    dtype('uint64')
    """
    if not isinstance(frame, pd.DataFrame):
        raise DatabaseError(f"`{name}` must be a pandas DataFrame, got {type(frame).__name__}.")
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer)
    except (ValueError, TypeError, ImportError) as error:  # pyarrow raises ArrowInvalid(ValueError)
        raise DatabaseError(
            f"`{name}` cannot be saved: {_first_line(error)}. Give every column one type "
            "(numbers, text, dates or booleans) and string column names."
        ) from error
    return buffer.getvalue()


def bytes_to_frame(data: bytes) -> pd.DataFrame:
    """Read a table written by :func:`frame_to_bytes` (a GeoDataFrame if one was saved).

    Examples
    --------
    >>> bytes_to_frame(frame_to_bytes(pd.DataFrame({"a": [1.5]}))).iloc[0, 0]
    np.float64(1.5)
    """
    import pyarrow.parquet as pq

    buffer = io.BytesIO(data)
    if b"geo" in (pq.read_schema(buffer).metadata or {}):
        import geopandas as gpd

        buffer.seek(0)
        return gpd.read_parquet(buffer)
    buffer.seek(0)
    return pd.read_parquet(buffer)


def json_ready(value: dict) -> dict:
    """Return ``value`` as it comes back from the database, so fresh and loaded results compare.

    Saved as JSON, numpy numbers become Python numbers, tuples lists and keys strings.

    Examples
    --------
    >>> json_ready({"n": np.int64(3), "t": (1, 2)})
    {'n': 3, 't': [1, 2]}
    """
    return json.loads(_dumps(value, "value"))


def _to_json_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | pd.Series | pd.Index):
        return value.tolist()
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _dumps(value: dict, name: str) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if not isinstance(value, dict):
        raise DatabaseError(f"`{name}` must be a dict, got {type(value).__name__}.")
    try:
        return json.dumps(value, default=_to_json_value, allow_nan=True, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise DatabaseError(f"`{name}` cannot be saved as JSON: {error}. Use numbers, text, lists "
                         "and dicts.") from error


# --------------------------------------------------------------------------------------------
# Engine, migrations, small helpers
# --------------------------------------------------------------------------------------------


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except ArgumentError as error:
        raise DatabaseError(
            f"`url`={url!r} is not a database URL. Use e.g. 'sqlite:////path/to/xingtu.sqlite' or "
            "'postgresql+psycopg://user@host/xingtu'."
        ) from error
    is_sqlite = parsed.get_backend_name() == "sqlite"
    options: dict[str, Any] = {}
    if is_sqlite:
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if in_memory:
            # One shared connection so every thread sees the same in-memory database.
            options.update(poolclass=sa.StaticPool, connect_args={"check_same_thread": False})
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    try:
        engine = sa.create_engine(parsed, **options)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as error:
        raise DatabaseError(
            f"Cannot open {_safe_url(url)}: the database driver {parsed.drivername!r} is not "
            f"available ({_first_line(error)}). Install its Python driver or use a 'sqlite:///' URL."
        ) from error
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """WAL journal, busy timeout, and transactions that take the write lock up front."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _read_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.select(sa.func.max(_version_table.c.version))).scalar() or 0)


def _upgrade(engine: Engine, target: int = SCHEMA_VERSION) -> None:
    """Apply the migrations the database has not had yet, each in its own transaction."""
    with engine.begin() as conn:
        _version_table.create(conn, checkfirst=True)
    for number in range(1, target + 1):
        with engine.begin() as conn:
            # Re-read inside the transaction: another process may have upgraded meanwhile.
            current = _read_version(conn)
            if current > SCHEMA_VERSION:
                raise DatabaseError(
                    f"The database schema is version {current}, newer than this Xingtu "
                    f"understands ({SCHEMA_VERSION}). Upgrade Xingtu."
                )
            if current >= number:
                continue
            MIGRATIONS[number - 1](conn)
            conn.execute(_version_table.delete())
            conn.execute(_version_table.insert().values(version=number))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _is_id(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise DatabaseError(f"`{name}` must be a non-empty text, got {value!r}.")


def _safe_url(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else error.__class__.__name__


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SURVEY_STATUSES", "Database", "DatabaseError",
           "SavedAreas", "SavedTeamLayer", "SavedUpload", "SurveyStatus", "bytes_to_frame",
           "database_url", "default_database_url", "frame_to_bytes", "json_ready"]



def _new_id(result: Any) -> int:
    """Return the primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise DatabaseError("The database did not return the id of the new row.")
    return int(key[0])
