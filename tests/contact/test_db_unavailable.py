"""Which failures mean "the database is not there right now" (`unavailable`, try again) and
which are a fault of ours (`internal`)."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from contact.db import unavailable


def test_outages_and_timeouts_are_unavailable():
    for exc in (
        TimeoutError(),
        PoolTimeoutError("QueuePool limit reached"),
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
    ):
        assert unavailable(exc), exc


def test_faults_of_ours_are_not():
    for exc in (
        KeyError("connection"),
        ValueError("timeout"),
        RuntimeError("message writer is not running"),
        IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        FileNotFoundError("routing.toml"),
    ):
        assert not unavailable(exc), exc
