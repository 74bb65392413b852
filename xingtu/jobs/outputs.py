"""One transaction for a run's outputs: its files and its database row commit together or not at all.

A job's outputs are committed in this order:

1. **claim** every destination before the run starts (:func:`claim_outputs`): a lock file
   ``.<name>.lock`` is created next to each destination with an exclusive create, so two runs
   cannot both take one ``--out``; a destination that exists is refused unless ``force``;
2. **write** every file under a temporary name in its destination folder
   (``.<name>.<random>.tmp``);
3. **save** the database row, if the run has one, in one database transaction;
4. **rename** the temporary files into place (``os.replace``, atomic on one file system).

If writing fails, no row is saved and the temporary files are removed. If a rename fails, the
files already renamed are removed (a file they replaced with ``force`` is put back) and the row is
deleted. Temporary files are removed on every failure, also when an exception or Ctrl-C arrives
mid-write. A lock left by a run that was killed (its process no longer exists on this machine)
is taken over, and that run's temporary files are removed.

A bad or unreachable database is found when the job opens it (before its solve), so no file is
ever written for a run whose row cannot be saved.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from optimizer.errors import InputError

Writer = Callable[[Path], object]
"""Writes one complete file to the (temporary) path it is given."""


class OutputExistsError(InputError):
    """A destination exists and ``--force`` was not given, or another run is writing it."""


@dataclass
class OutputClaim:
    """Destinations a run holds the locks of until it commits or gives up.

    Attributes
    ----------
    paths
        The claimed destinations.
    force
        Whether existing files may be replaced.
    """

    paths: tuple[Path, ...]
    force: bool
    _locks: list[Path] = field(default_factory=list, repr=False)

    def release(self) -> None:
        """Remove the lock files (idempotent)."""
        while self._locks:
            self._locks.pop().unlink(missing_ok=True)


def lock_path(path: Path) -> Path:
    """Return the lock file that guards ``path`` (``.<name>.lock`` in its folder).

    Examples
    --------
    >>> lock_path(Path("out/plan-2026-W02.xlsx")).as_posix()
    'out/.plan-2026-W02.xlsx.lock'
    """
    return path.with_name(f".{path.name}.lock")


@contextmanager
def claim_outputs(paths: Sequence[Path | str], *, force: bool) -> Iterator[OutputClaim]:
    """Hold the destinations of a run for the duration of the ``with`` block.

    Parameters
    ----------
    paths
        Every file the run will write.
    force
        Replace destinations that exist; without it an existing destination is refused.

    Yields
    ------
    OutputClaim
        Pass it to :func:`commit_outputs`.

    Raises
    ------
    OutputExistsError
        A destination exists (without ``force``) or another running process holds its lock;
        nothing is claimed then.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> with claim_outputs([folder / "a.csv"], force=False) as claim:
    ...     lock_path(folder / "a.csv").exists()
    True
    >>> lock_path(folder / "a.csv").exists()
    False
    """
    claim = OutputClaim(tuple(Path(p) for p in paths), force)
    try:
        for path in claim.paths:
            if path.exists() and not force:
                raise OutputExistsError(
                    f"{path} already exists; pass --force to overwrite it or choose another "
                    "--out (earlier outputs are kept).")
            claim._locks.append(_take_lock(path))
        yield claim
    finally:
        claim.release()


def commit_outputs(claim: OutputClaim, writers: Mapping[Path, Writer], *,
                   save_row: Callable[[], int] | None = None,
                   delete_row: Callable[[int], None] | None = None) -> int | None:
    """Write the files, save the row, then move the files into place; all or nothing.

    Parameters
    ----------
    claim
        From :func:`claim_outputs`; every destination in ``writers`` must be in it.
    writers
        Destination to the function that writes it.
    save_row
        Saves the run's database row and returns its id; ``None`` for a run without one.
    delete_row
        Removes that row again when a rename fails.

    Returns
    -------
    int or None
        The row's id, or ``None`` without ``save_row``.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> target = folder / "a.txt"
    >>> with claim_outputs([target], force=False) as claim:
    ...     commit_outputs(claim, {target: lambda tmp: tmp.write_text("hi")})
    >>> target.read_text(), sorted(p.name for p in folder.iterdir())
    ('hi', ['a.txt'])
    """
    unclaimed = [str(p) for p in writers if Path(p) not in claim.paths]
    if unclaimed:
        raise ValueError(f"Outputs not claimed before the run: {', '.join(unclaimed)}.")
    staged: list[tuple[Path, Path]] = []
    try:
        for destination, write in writers.items():
            destination = Path(destination)
            tmp = _temporary_name(destination)
            staged.append((tmp, destination))
            write(tmp)
            tmp.chmod(_default_file_mode())  # mkstemp creates 0600; give the file the usual mode
        row = save_row() if save_row is not None else None
        try:
            _move_into_place(staged, force=claim.force)
        except BaseException:
            if row is not None and delete_row is not None:
                delete_row(row)
            raise
        return row
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _move_into_place(staged: list[tuple[Path, Path]], *, force: bool) -> None:
    """Rename every temporary file to its destination; undo the ones done if one fails."""
    done: list[Path] = []
    kept: list[tuple[Path, Path]] = []  # (the replaced file's backup, its destination)
    try:
        for tmp, destination in staged:
            if destination.exists():
                if not force:
                    raise OutputExistsError(f"{destination} appeared while this run was writing; "
                                            "nothing was written. Run again with --force to "
                                            "replace it.")
                backup = _temporary_name(destination, kind="old")
                os.replace(destination, backup)
                kept.append((backup, destination))
            os.replace(tmp, destination)
            done.append(destination)
    except BaseException:
        for destination in done:
            destination.unlink(missing_ok=True)
        for backup, destination in kept:
            with suppress(OSError):
                os.replace(backup, destination)
        raise
    for backup, _ in kept:
        backup.unlink(missing_ok=True)


def _take_lock(path: Path) -> Path:
    """Create ``path``'s lock file exclusively; take over a lock whose process has died."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(path)
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _lock_is_stale(lock):
                _remove_leftovers(path)
                lock.unlink(missing_ok=True)
                continue
            raise OutputExistsError(
                f"Another run is writing {path} (lock file {lock}); wait for it to finish or "
                "choose another --out. If no run is going, delete the lock file.") from None
        with os.fdopen(handle, "w") as file:
            file.write(f"{os.getpid()} {socket.gethostname()}\n")
        return lock
    raise OutputExistsError(f"Cannot take the lock file {lock}; delete it if no run is going.")


def _lock_is_stale(lock: Path) -> bool:
    """Tell whether the lock was taken on this machine by a process that no longer runs."""
    try:
        pid_text, host = lock.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # being written right now, or not ours to judge
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _remove_leftovers(path: Path) -> None:
    """Remove the temporary files a killed run left for ``path``."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


def _temporary_name(destination: Path, kind: str = "new") -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{destination.name}.{kind}-", suffix=".tmp",
                                    dir=destination.parent)
    os.close(handle)
    return Path(name)


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
