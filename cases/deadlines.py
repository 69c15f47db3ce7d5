"""The legal clock of a melding: the safety assessment starts within 5 working days of receipt
(Dutch public holidays from `holidays` do not count); `spoed` means today."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from contact.workdays import add_working_days

SAFETY_ASSESSMENT_WORKING_DAYS = 5


def safety_assessment_deadline(
    received_at: datetime, urgency: str | None, tz: ZoneInfo = ZoneInfo("Europe/Amsterdam")
) -> date:
    """The last day on which the safety assessment of a melding received at `received_at` may
    start. Counted from the local date of receipt, which itself does not count."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    received = received_at.astimezone(tz).date()
    if urgency == "spoed":
        return received
    return add_working_days(received, SAFETY_ASSESSMENT_WORKING_DAYS)
