"""When a Vietnamese ID card expires, from the law (no expiry date is in the QR code).

- 2014 law (Luật CCCD, art. 21), cards issued before 2024-07-01: renew at ages 25, 40, 60.
- 2023 law (Luật Căn cước), cards issued from 2024-07-01: renew at ages 14, 25, 40, 60.
A card issued within 2 years before a renewal age stays valid until the next one; issued
within 2 years before 60, or later, it never expires. The expiry is the birthday at that age.
"""

from __future__ import annotations

from datetime import date

LAW_2023_FROM = date(2024, 7, 1)
AGES_2014 = (25, 40, 60)
AGES_2023 = (14, 25, 40, 60)


def birthday_at(dob: date, age: int) -> date:
    """The date a person born on ``dob`` turns ``age`` (29 Feb -> 28 Feb in common years)."""
    year = dob.year + age
    try:
        return dob.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def renewal_ages(issue_date: date) -> tuple[int, ...]:
    return AGES_2023 if issue_date >= LAW_2023_FROM else AGES_2014


def legal_expiry(dob: date, issue_date: date) -> date | None:
    """The expiry the law gives a card issued on ``issue_date``; None = no expiry."""
    for age in renewal_ages(issue_date):
        # Issued within the 2 years before this milestone: valid until the next one.
        if issue_date < birthday_at(dob, age - 2):
            return birthday_at(dob, age)
    return None


def milestone_dates(dob: date, issue_date: date) -> list[date]:
    """All renewal-age birthdays of the law in force at issue (for key candidates)."""
    return [birthday_at(dob, age) for age in renewal_ages(issue_date)]
