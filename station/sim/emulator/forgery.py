"""Hostile chips made from a genuine card's files: a clone and a forged document signer.

``clone(profile)``: what copying a genuine chip gives. Every signed file (DG1, DG2, DG13,
EF.SOD) is copied byte for byte; DG14 and DG15, whose private keys a copy cannot have,
are left out, and so is their tag in EF.COM (which no signature covers). The SOD still
lists DG14 and DG15.

``forge_signer(profile)``: the data groups as they are, but the SOD signed again by a
forged document signer: a certificate naming the genuine CSCA as its issuer (subject,
serial, validity and authority key identifier copied from the genuine signer) that the
CSCA never signed.

Both are switches of ``station.sim.emulator.auth.tamper`` (``clone=``, ``forged_signer=``).
"""

from __future__ import annotations

from dataclasses import replace

from station.icao import lds
from station.sim import pki
from station.sim.emulator.files import DG_FIDS, DG_TAGS, FID_COM, FID_SOD, CardProfile, ef_com

CLONE_DROPS = (14, 15)


def clone(profile: CardProfile) -> CardProfile:
    """A copy of the chip without DG14/DG15 and without the chip's private keys."""
    files = dict(profile.files)
    for number in CLONE_DROPS:
        files.pop(DG_FIDS[number], None)
    listed = lds.parse_com(profile.files[FID_COM]).data_groups
    kept = [n for n in sorted(DG_TAGS) if f"DG{n}" in listed and n not in CLONE_DROPS]
    files[FID_COM] = ef_com(kept)
    return replace(profile, files=files, keys={})


def forge_signer(profile: CardProfile) -> CardProfile:
    """The same files with the SOD re-signed by a forged document signer."""
    from station.verify.sod import parse_sod

    sod = profile.files[FID_SOD]
    genuine = parse_sod(sod).signer_cert
    if genuine is None:
        raise ValueError("the profile's SOD embeds no document signer")
    forged_der, forged_key = pki.forge_signer(genuine.dump())
    files = dict(profile.files)
    files[FID_SOD] = pki.resign_sod(sod, forged_der, forged_key)
    return replace(profile, files=files)


__all__ = ["clone", "forge_signer"]
