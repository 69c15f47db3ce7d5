"""The rules of an advisor's status (chat/status.py): how long nawerk lasts, and a nawerk whose
end passed counting as beschikbaar wherever it is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat.status import AftercareTimes, effective

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_nawerk_is_longer_after_a_crisis_or_a_melding():
    times = AftercareTimes(after_close_s=60, after_crisis_s=300, after_melding_s=240)
    assert times.length_s("advies", in_crisis=False) == 60
    assert times.length_s("geen", in_crisis=False) == 60
    assert times.length_s("melding", in_crisis=False) == 240
    assert times.length_s("advies", in_crisis=True) == 300
    assert times.length_s("melding", in_crisis=True) == 300
    # A longer general time is never shortened by the special ones.
    assert AftercareTimes(after_close_s=600, after_crisis_s=300, after_melding_s=300).length_s("melding", True) == 600


def test_a_nawerk_that_ran_out_is_beschikbaar_since_its_end():
    until = NOW + timedelta(seconds=60)
    running = effective("nawerk", NOW, until, NOW + timedelta(seconds=59))
    assert running == {"status": "nawerk", "since": NOW, "until": until}
    assert effective("nawerk", NOW, until, until) == {"status": "beschikbaar", "since": until, "until": None}
    assert effective("pauze", NOW, until, NOW + timedelta(days=1)) == {"status": "pauze", "since": NOW, "until": None}
    assert effective(None, None, None, NOW)["status"] == "beschikbaar"
