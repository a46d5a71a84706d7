"""The verdict rules as README and docs/security.md state them are what the code decides
and what the OLED shows: every reason code a document names under a level gets that
level from :mod:`station.verify.verdict` and that verdict colour on the screen (an
expired or revoked document signer included: the issue's "Expired or revoked document
signer" decision)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from station.display.outcome import OFFICER_REASONS, outcome_from_verification
from station.display.screens import Verdict
from station.verify.passive import Passive
from station.verify.verdict import REASONS, Auth, Level, Verification

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECURITY = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
SCREEN = {
    Level.VERIFIED: Verdict.VERIFIED,
    Level.FAILED: Verdict.FAILED,
    Level.SIGNED_UNTRUSTED: Verdict.ATTENTION,
    Level.QR_ONLY: Verdict.ATTENTION,
}


def _case(code: str) -> Verification:
    """A chip read whose verdict's reason code is ``code``, all else passing."""
    ok = Auth.OK
    if code in {p.value for p in Passive}:
        return Verification(Passive(code), ok, ok, True)
    return {
        "active-failed": Verification(Passive.OK, Auth.FAILED, ok, True),
        "chip-auth-failed": Verification(Passive.OK, ok, Auth.FAILED, True),
        "clone-suspected": Verification(Passive.OK, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED, True,
                                        missing=(14, 15)),
        "dg-missing": Verification(Passive.OK, ok, ok, True, missing=(2,)),
        "qr-chip-mismatch": Verification(Passive.OK, ok, ok, False, mismatches=("full_name",)),
        "no-chip-proof": Verification(Passive.OK, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED, True),
        "check-skipped": Verification(Passive.OK, ok, Auth.NOT_CHECKED, True),
        "no-qr-compare": Verification(Passive.OK, ok, ok, None),
        "group-unparsed": Verification(Passive.OK, ok, ok, True, unparsed=("DG13",)),
        "verified": Verification(Passive.OK, ok, ok, True, unparsed=("DG2",)),  # a note only
    }[code]  # fmt: skip


def _readme_bullets() -> list[tuple[Level, str]]:
    """(level, code) for every reason code the README's verdict list names under a level."""
    section = README.split("## Trust anchors and verification", 1)[1].split("\n## ", 1)[0]
    bullets = re.findall(r"^- \*\*([a-z-]+)\*\*(.*?)(?=^- |^\n)", section, flags=re.S | re.M)
    assert {level for level, _ in bullets} == {lv.value for lv in Level}
    return [
        (Level(level), code)
        for level, text in bullets
        for code in re.findall(r"`([a-z-]+)`", text)
        if code in REASONS
    ]


def _security_rows() -> list[tuple[Level, str]]:
    """(level, code) for every row of docs/security.md's signature table."""
    rows = re.findall(r"^\|[^|\n]+\| ([a-z-]+) \| `([a-z-]+)` \|$", SECURITY, flags=re.M)
    return [(Level(level), code) for level, code in rows]


def test_the_documents_name_the_signer_decision() -> None:
    """Both documents say it, and say the same: revoked is failed, expired is amber."""
    for pairs in (_readme_bullets(), _security_rows()):
        assert (Level.FAILED, "signer-revoked") in pairs
        assert (Level.SIGNED_UNTRUSTED, "signer-expired") in pairs
        assert (Level.FAILED, "bad-signature") in pairs


@pytest.mark.parametrize(("level", "code"), sorted({*_readme_bullets(), *_security_rows()}))
def test_each_documented_code_has_its_level_in_code_and_on_screen(level: Level, code: str) -> None:
    v = _case(code)
    assert v.reason_code == code
    assert v.level is level
    out = outcome_from_verification(v)
    assert out.verdict is SCREEN[level]
    assert out.reason == OFFICER_REASONS[code]


def test_an_expired_signer_is_not_shown_as_a_forgery() -> None:
    """Amber, the signature line unknown rather than wrong, no 'not genuine' advice;
    a revoked signer is red with that advice."""
    expired = outcome_from_verification(_case("signer-expired"))
    revoked = outcome_from_verification(_case("signer-revoked"))
    assert expired.checks[0].ok is None and expired.advice is None
    assert revoked.checks[0].ok is False and revoked.advice is not None
