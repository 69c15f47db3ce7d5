"""deploy/systemd: the units parse (`systemd-analyze verify` where systemd is installed: unknown
keys, bad values and a missing program are reported), run hardened, and hold no secret."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

UNITS = ROOT / "deploy" / "systemd"
VT_CONTACT = str(Path(sys.executable).parent / "vt-contact")


def read_unit(name: str) -> configparser.ConfigParser:
    # systemd allows a key more than once (SystemCallFilter=): keep the last, as a structure check.
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def test_the_service_is_hardened_and_its_secrets_are_elsewhere():
    unit = read_unit("vt-contact@.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("vt-contact serve --port %i")
    assert service["EnvironmentFile"] == "/etc/vt-contact/vt-contact.env"
    expected = {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
        "Restart": "on-failure",
    }
    assert {k: service.get(k) for k in expected} == expected
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    for path in UNITS.iterdir():
        text = path.read_text()
        for secret in ("VT_SECRET_KEY=", "VT_HASH_KEY=", "VT_METRICS_TOKEN=", "PGPASSWORD=", "postgresql+asyncpg://"):
            assert secret not in text, (path.name, secret)


@pytest.mark.parametrize(
    "instance", ["vt-contact@8081.service", "vt-contact-backup.service", "vt-contact-backup.timer"]
)
def test_systemd_analyze_verifies_the_units(tmp_path, instance):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the structure test above still runs)")
    env_file = tmp_path / "vt-contact.env"
    env_file.write_text("VT_DATABASE_URL=sqlite+aiosqlite:///var/vt-contact.db\n")
    for path in UNITS.iterdir():
        # Where this machine has the program and the environment file; nothing else changes.
        text = path.read_text().replace("/opt/vt-contact/venv/bin/vt-contact", VT_CONTACT)
        (tmp_path / path.name).write_text(text.replace("/etc/vt-contact/vt-contact.env", str(env_file)))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / instance)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    own = [line for line in done.stderr.splitlines() if str(tmp_path) in line or "vt-contact" in line]
    assert done.returncode == 0, done.stderr
    assert not own, own
