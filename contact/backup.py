"""`vt-contact backup PATH` and `vt-contact restore PATH` (docs/operations.md, "Backups").

- SQLite: the online backup API of sqlite3 copies a consistent snapshot while servers write
  (WAL mode); the copy is one self-contained file (journal mode DELETE).
- PostgreSQL: `pg_dump -Fc` into the file, `pg_restore` out of it. The connection comes from the
  database URL through the PG* environment variables (the password as PGPASSWORD), never on
  the command line, where every user of the machine can read it (`ps`).

A backup is never written over an existing file and is made readable by its owner only
(0600): it holds every conversation. A restore goes into an empty database only, unless forced,
and ends with `db upgrade`, so a backup of an older version comes up to this version's schema.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from contact.migrate import upgrade

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# pg_dump/pg_restore may take long on a big database; they are not interactive.
PG_TIMEOUT_S = 3600


class BackupError(RuntimeError):
    """The backup or restore could not be made; the message says why (no secret in it)."""


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _new_private_file(path: Path) -> int:
    """Create `path` for writing, readable by its owner only; refuse one that exists."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists: a backup never overwrites a file") from None
    except OSError as exc:
        raise BackupError(f"cannot create {path}: {exc.strerror}") from None


def backup(database_url: str, path: Path) -> str:
    """Write a backup of the database to `path`; returns what kind of backup it is."""
    url = make_url(database_url)
    fd = _new_private_file(path)
    try:
        if url.get_backend_name() == "sqlite":
            os.close(fd)
            fd = -1
            _sqlite_backup(_sqlite_file(url), path)
            kind = "sqlite"
        else:
            _pg_dump(url, fd)
            kind = "pg_dump -Fc"
        _fsync(path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
            fd = -1
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    return kind


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    # Read-only: the backup never changes the live database (nor creates it).
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=1024)
            # One self-contained file, whatever mode the live database runs in.
            dst.execute("PRAGMA journal_mode=DELETE")
            ok = dst.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                raise BackupError("the copy failed its integrity check")
        finally:
            dst.close()
    finally:
        src.close()


def pg_environment(url: URL) -> dict[str, str]:
    """The PG* variables for the client tools: connection and password, nothing on argv. Other
    PG* variables of the caller are dropped, so nothing redirects the tools elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
    }
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(ssl, str):
        values["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl, ssl)
    env.update({k: v for k, v in values.items() if v})
    return env


def pg_tool(name: str) -> str:
    """`pg_dump` or `pg_restore`: on the PATH, else the newest of Debian's versioned folders (a
    newer client reads and writes older servers' dumps)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if not versions:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return versions[-1]


def _run(args: list[str], env: dict[str, str], stdout: int | None = None) -> None:
    done = subprocess.run(  # noqa: S603 - fixed tools, no shell, no value from a user on argv
        args, env=env, stdin=subprocess.DEVNULL, stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=PG_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{Path(args[0]).name} failed: {message[-1] if message else done.returncode}")


def _pg_dump(url: URL, fd: int) -> None:
    _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"], pg_environment(url), stdout=fd)


def restore(database_url: str, path: Path, *, force: bool = False) -> str:
    """Restore the backup at `path` into the database of `database_url`, then upgrade its schema
    to this version's. Refuses a database that holds tables unless `force`."""
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    with open(path, "rb") as f:
        head = f.read(16)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if head != SQLITE_MAGIC:
            raise BackupError(f"{path} is not an SQLite backup (a PostgreSQL backup goes into PostgreSQL)")
        _sqlite_restore(path, _sqlite_file(url), force)
        kind = "sqlite"
    else:
        if not head.startswith(PG_DUMP_MAGIC):
            raise BackupError(f"{path} is not a pg_dump -Fc backup (an SQLite backup goes into SQLite)")
        _pg_restore(url, path, force)
        kind = "pg_dump -Fc"
    upgrade(database_url)
    return kind


def _sqlite_tables(path: Path) -> int:
    if not path.exists() or path.stat().st_size == 0:
        return 0
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    finally:
        conn.close()


def _sqlite_restore(backup_file: Path, target: Path, force: bool) -> None:
    if _sqlite_tables(target) and not force:
        raise BackupError(f"{target} is not empty: restore into an empty database, or add --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            # The backup API replaces every page of the target, in one step for its readers.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    finally:
        src.close()
    with contextlib.suppress(OSError):
        os.chmod(target, 0o600)


def _pg_connect(url: URL) -> Any:
    """A psycopg connection with the same settings the client tools get."""
    import psycopg

    env = pg_environment(url)
    keys = {"PGHOST": "host", "PGPORT": "port", "PGUSER": "user", "PGPASSWORD": "password", "PGSSLMODE": "sslmode"}
    conninfo = {name: env[var] for var, name in keys.items() if var in env}
    from psycopg.conninfo import make_conninfo

    return psycopg.connect(make_conninfo("", dbname=env.get("PGDATABASE", ""), connect_timeout=10, **conninfo))


def _pg_tables(url: URL) -> int:
    with _pg_connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
        return int(row[0]) if row else 0


def _pg_restore(url: URL, path: Path, force: bool) -> None:
    if _pg_tables(url):
        if not force:
            raise BackupError(f"database {url.database} is not empty: restore into an empty database, or add --force")
        _pg_empty(url)
    _run(
        [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
         f"--dbname={url.database}", str(path)],
        pg_environment(url),
    )  # fmt: skip


def _pg_empty(url: URL) -> None:
    """--force: every table of the current schema goes (the restore brings them back)."""
    from psycopg import sql

    with _pg_connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for name in names:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        conn.commit()
