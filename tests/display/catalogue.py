"""Every screen the station can show, with fixed synthetic data (shared by the tests)."""

from __future__ import annotations

from datetime import date

from PIL import Image, ImageDraw

from station.config import PORTAL_URL
from station.display.face import face_thumbnail
from station.display.layout import Layout
from station.display.outcome import outcome_from_verification
from station.display.render import layout, result_pages
from station.display.screens import (
    Check,
    Denied,
    ErrorKind,
    ErrorScreen,
    IdleScreen,
    Person,
    QrSeenScreen,
    ReadingScreen,
    ResultScreen,
    Screen,
    SyncLink,
    Verdict,
    VerifyingScreen,
)
from station.sim.citizens import generate_many
from station.verify.passive import CrlState, Passive
from station.verify.verdict import Auth, Verification

# Worst cases: long multi-part names, addresses with every kind of stacked mark.
LONG_NAME = "Tôn Nữ Hoàng Thị Phương Quỳnh Diệu Ngọc Ánh"
UPPER_NAME = "NGUYỄN HUỲNH THỊ ỶẪỄỖỮ PHƯỢNG"
LONG_ADDRESS = (
    "Số 299/12A Ngõ 45 Đường Trần Hưng Đạo, Tổ dân phố Ẩm Hạ Thượng, Phường Quỳnh Lôi, "
    "Quận Hoàn Kiếm, Thành phố Hồ Chí Minh"
)
LONG_ORIGIN = "Xã Ỷ La Ẩm Hạ, Huyện Đông Anh Ngọc Hồi, Tỉnh Thừa Thiên Huế"
UNBROKEN = "Đườnggggggggggggggggggggggggggggggggggggggggggggggg"

# The result screens are what the station shows for these verdicts (station.display.outcome).
VERIFIED = outcome_from_verification(Verification(Passive.OK, Auth.OK, Auth.OK, True))
ATTENTION = outcome_from_verification(
    Verification(Passive.UNTRUSTED_SIGNER, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED, True)
)
FAILED = outcome_from_verification(
    Verification(Passive.OK, Auth.OK, Auth.OK, False, mismatches=("date_of_birth",))
)
CHECKS = VERIFIED.checks
ATTENTION_CHECKS = ATTENTION.checks


def synthetic_face() -> bytes:
    """A drawn (not photographed) face as JPEG bytes."""
    img = Image.new("L", (120, 160), 200)
    pen = ImageDraw.Draw(img)
    pen.ellipse((20, 20, 100, 130), fill=150)
    pen.ellipse((40, 55, 52, 65), fill=30)
    pen.ellipse((68, 55, 80, 65), fill=30)
    pen.arc((42, 85, 78, 110), 20, 160, fill=40, width=4)
    pen.rectangle((10, 130, 110, 160), fill=90)
    from io import BytesIO

    out = BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def sample_person() -> Person:
    c = generate_many(seed=6, count=1, today=date(2026, 1, 15))[0]
    return Person(
        c.full_name, c.date_of_birth, c.sex, c.id_number, c.place_of_residence, c.place_of_origin
    )


def worst_person() -> Person:
    return Person(LONG_NAME, date(1961, 12, 31), "Nữ", "079161012345", LONG_ADDRESS, LONG_ORIGIN)


def screens() -> dict[str, Screen]:
    """Named screen models (result screens expand to one entry per page in ``layouts``)."""
    person = sample_person()
    face = face_thumbnail(synthetic_face())
    out: dict[str, Screen] = {
        "idle": IdleScreen(SyncLink.ONLINE, 0, portal=PORTAL_URL),
        "idle-no-portal": IdleScreen(SyncLink.ONLINE, 0),
        "idle-connecting": IdleScreen(SyncLink.CONNECTING, 0, portal=PORTAL_URL),
        "idle-offline": IdleScreen(SyncLink.OFFLINE, 1234, portal=PORTAL_URL),
        "idle-qr-only": IdleScreen(SyncLink.DISABLED, 7, chip=False, portal=PORTAL_URL),
        # an alert for the officer wins over the citizens' portal code: not drawn
        "idle-refused": IdleScreen(SyncLink.ONLINE, 2, refused=12, portal=PORTAL_URL),
        "idle-stale": IdleScreen(SyncLink.OFFLINE, 37, stale_min=26 * 60, portal=PORTAL_URL),
        "idle-denied": IdleScreen(
            SyncLink.ONLINE, 3, denied=Denied("station-02", "station-01"), portal=PORTAL_URL
        ),
        "qr-seen": QrSeenScreen(),
        "qr-seen-qr-only": QrSeenScreen(chip=False),
        "mrz-seen": QrSeenScreen(seen="mrz"),
        "looking-for-mrz": QrSeenScreen(seen="looking"),
        "reading-start": ReadingScreen(0.0, 0),
        "reading": ReadingScreen(0.45, 8400),
        "verifying": VerifyingScreen(),
    }
    for kind in ErrorKind:
        out[f"error-{kind.value}"] = ErrorScreen(kind)
    for name, outcome, shown_face in (
        ("verified", VERIFIED, face),
        ("attention", ATTENTION, None),
        ("failed", FAILED, None),
    ):
        out[f"result-{name}"] = ResultScreen(
            outcome.verdict, outcome.reason, person, outcome.checks, shown_face,
            advice=outcome.advice,
        )  # fmt: skip
    out["result-clone"] = _outcome_screen(
        Verification(
            Passive.OK, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED, True, missing=(14, 15),
            crl=CrlState.MISSING,
        ),
        person,
    )  # fmt: skip
    # a card whose signer the ward approved (no CSCA): "Hợp lệ", said to be a pinned DS
    out["result-pinned"] = _outcome_screen(
        Verification(Passive.OK, Auth.OK, Auth.OK, True, trust_path="pinned-ds"), person
    )
    unparsed = outcome_from_verification(
        Verification(Passive.OK, Auth.OK, Auth.OK, True, unparsed=("DG2",))
    )
    out["result-unparsed"] = ResultScreen(
        unparsed.verdict, unparsed.reason, person, unparsed.checks, advice=unparsed.advice
    )
    out["result-revealed"] = ResultScreen(
        VERIFIED.verdict, VERIFIED.reason, person, CHECKS, page=1, reveal_id=True
    )
    return out


def _outcome_screen(v: Verification, person: Person) -> ResultScreen:
    """The result screen the station draws for ``v`` (station.display.outcome)."""
    o = outcome_from_verification(v)
    return ResultScreen(o.verdict, o.reason, person, o.checks, advice=o.advice)


def worst_screens() -> dict[str, Screen]:
    """Overlong data the layout must wrap or paginate, never cut silently."""
    return {
        "worst": ResultScreen(
            Verdict.ATTENTION,
            "Chỉ đọc QR",
            worst_person(),
            (*ATTENTION_CHECKS, Check("Hạn thẻ", False, LONG_ORIGIN)),
        ),
        "upper": ResultScreen(
            Verdict.VERIFIED, "Chip thật", Person(UPPER_NAME, date(2000, 1, 1), "Nam", "0" * 12)
        ),
        "unbroken": ResultScreen(
            Verdict.FAILED, "QR sai", Person(UNBROKEN, date(2000, 1, 1), "Nam", "1" * 12, UNBROKEN)
        ),
    }


def layouts(models: dict[str, Screen]) -> dict[str, Layout]:
    """Every page of every model, named ``<model>`` or ``<model>-p<k>``."""
    out: dict[str, Layout] = {}
    for name, model in models.items():
        if isinstance(model, ResultScreen) and model.page == 0 and model.reveal_id is False:
            for k, page in enumerate(result_pages(model), start=1):
                out[f"{name}-p{k}"] = page
        else:
            out[name] = layout(model)
    return out
