"""Tables of the management figures: anonymous counts per local day and team that outlive the
retention purge (no contact id, no text), and which days are sealed (counted for good)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Table
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime


class FiguresDay(SQLModel, table=True):
    """One figure of one sealed day (Europe/Amsterdam) and team: a counter (`chats_offered`) or
    how often a duration in whole seconds occurred (`wait_s:37`), so percentiles stay computable."""

    __tablename__ = "figures_day"

    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD
    team: str = Field(primary_key=True, max_length=40)  # '' for figures of no team (tijdvakken)
    figure: str = Field(primary_key=True, max_length=40)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class FiguresSealed(SQLModel, table=True):
    """A day whose figures are in `figures_day` for good: read from there, never recomputed."""

    __tablename__ = "figures_sealed"

    day: str = Field(primary_key=True, max_length=10)
    sealed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


figures_days: Table = FiguresDay.__table__  # type: ignore[attr-defined]
figures_sealed: Table = FiguresSealed.__table__  # type: ignore[attr-defined]
