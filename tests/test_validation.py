"""The shared input rules (contact/validation.py) and token parsing that never raises anything
but `unauthorized`."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.auth import TokenSigner
from contact.errors import DomainError
from contact.validation import MAX_INT, ascii_int, id_ok, json_depth_ok, text_ok
from tests.support.server import SECRET


@pytest.mark.parametrize(
    "bad", ["\x00", "a\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\x9f", "\ud800", "\udfff"]
)
def test_control_characters_and_surrogates_are_not_text(bad):
    assert not text_ok(f"hallo {bad} daar")
    assert not id_ok(f"id{bad}")


def test_text_keeps_line_breaks_tabs_and_every_language():
    assert text_ok("regel een\r\nregel\ttwee — één 😀 مرحبا")
    assert not id_ok("a\nb") and not id_ok("a\tb") and id_ok("VT-ABC234") and id_ok("a b")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14", 14),
        ("0", 0),
        (str(MAX_INT), MAX_INT),
        (str(MAX_INT + 1), None),
        ("²", None),
        ("٣", None),
        ("-1", None),
        ("1e3", None),
        (" 1", None),
        ("", None),
        ("1" * 5000, None),
        (None, None),
    ],
)
def test_ascii_int(raw, expected):
    assert ascii_int(raw) == expected


def test_json_depth():
    assert json_depth_ok(json.loads("[" * 32 + "]" * 32))
    assert not json_depth_ok(json.loads("[" * 33 + "]" * 33))
    assert json_depth_ok({"a": [1, {"b": "c"}]}) and json_depth_ok("x") and json_depth_ok(None)
    assert not json_depth_ok(json.loads('{"a":' * 100 + "1" + "}" * 100))


@settings(max_examples=500, deadline=None)
@given(token=st.one_of(st.text(max_size=600), st.binary(max_size=100), st.integers(), st.none(), st.lists(st.text())))
def test_token_parsing_only_ever_says_unauthorized(token):
    signer = TokenSigner(SECRET, 60)
    with pytest.raises(DomainError) as refused:
        signer.verify(token)
    assert refused.value.code == "unauthorized"


@pytest.mark.parametrize("bad", ["\ud800", "é" * 10, "x" * 513, "a\x00b", "..", "a.b.c", "eyJ" + "A" * 100])
def test_odd_tokens_are_unauthorized(bad):
    with pytest.raises(DomainError) as refused:
        TokenSigner(SECRET, 60).verify(bad)
    assert refused.value.code == "unauthorized"
    signer = TokenSigner(SECRET, 60)
    assert signer.verify(signer.issue("agent-1")) == "agent-1"
