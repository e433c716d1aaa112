"""When a person may be called, in their own time zone: France's consumer canvassing rules by default.

Pure functions, no database: the dialer asks them once per callee and the portal uses them to validate a campaign.

- Consumer Code D.223-9: weekdays only, never on a public holiday, 10:00–13:00 and 14:00–20:00 in the callee's time
  zone, at most 4 attempts per 30 days per number, no new call for 60 days after a refusal.
- Consumer Code L.223-1 (as amended in 2025): from 11 August 2026, canvassing a consumer by phone needs their prior
  consent, unless the call is about a contract in progress with them.

Windows are half-open, ``[start, end)``: 13:00 is already the lunch break, 20:00 is already too late. A window is
read on the callee's wall clock on that day, so 10:00 on the Monday after a daylight-saving change is 10:00 local,
whatever UTC offset that day has; a start that falls in a spring-forward gap moves past the gap, and an end that
falls in an autumn repeated hour ends at its first occurrence (the shorter, safe reading).

Public holidays: the eleven national ones everywhere. Alsace-Moselle adds Good Friday and 26 December, but a
number does not tell whether a person lives there (mobile numbers are national, landlines move), so both days are
skipped for every callee in metropolitan France: two calling days a year lost rather than one call on a day the law
forbids there. Overseas territories have their own day (the abolition of slavery, Saint-Barthélemy's and
Saint-Martin's days); their numbers map to their own time zone, so that day is skipped for callees in that zone.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from django.utils.translation import gettext as _
from phonenumbers import timezone as phone_timezones

UTC = datetime.UTC
METROPOLITAN_ZONE = "Europe/Paris"
CONSENT_REQUIRED_FROM = datetime.date(2026, 8, 11)
HORIZON_DAYS = 35  # how far ahead the next allowed instant is looked for

# the default profile (Consumer Code D.223-9)
FRENCH_DAYS = (0, 1, 2, 3, 4)
FRENCH_WINDOWS = (("10:00", "13:00"), ("14:00", "20:00"))
FRENCH_MAX_ATTEMPTS = 4
FRENCH_ATTEMPTS_PERIOD_DAYS = 30
FRENCH_REFUSAL_COOLDOWN_DAYS = 60

# reasons, spelled as calls.models.DialerSkip.Reason spells them
NOT_A_CALLING_DAY = "not_a_calling_day"
PUBLIC_HOLIDAY = "public_holiday"
OUTSIDE_WINDOW = "outside_window"

# (month, day) of each territory's own public holiday, by the time zone its numbers map to
_TERRITORY_DAYS = {
    "America/Martinique": (5, 22),
    "America/Guadeloupe": (5, 27),
    "America/Cayenne": (6, 10),
    "Indian/Reunion": (12, 20),
    "Indian/Mayotte": (4, 27),
    "America/St_Barthelemy": (10, 9),
    "America/Marigot": (5, 28),
}
_ALSACE_MOSELLE_FIXED = ((12, 26),)
_NATIONAL_FIXED = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
_UNKNOWN_ZONE = "Etc/Unknown"
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class CallingRules:
    """The calling days (Monday = 0), the windows of each day and whether public holidays are skipped."""

    days: frozenset[int]
    windows: tuple[tuple[datetime.time, datetime.time], ...]
    skip_public_holidays: bool = True

    @classmethod
    def of(cls, campaign) -> CallingRules:
        """Read the rules of anything with ``calling_days``, ``calling_windows`` and ``skip_public_holidays``."""
        return cls(frozenset(int(day) for day in campaign.calling_days), windows_from_json(campaign.calling_windows),
                   bool(campaign.skip_public_holidays))


FRENCH_RULES = CallingRules(frozenset(FRENCH_DAYS), tuple(
    (datetime.time.fromisoformat(start), datetime.time.fromisoformat(end)) for start, end in FRENCH_WINDOWS))


class Verdict(NamedTuple):
    """Whether a call is allowed now; if not, why (one of the reasons above) and the next instant it is (UTC)."""

    allowed: bool
    reason: str
    next_allowed: datetime.datetime | None


# --- windows as text and as JSON -----------------------------------------------------------------------------------


def windows_from_json(windows: Iterable[Sequence[str]]) -> tuple[tuple[datetime.time, datetime.time], ...]:
    """Return validated windows from ``[["10:00", "13:00"], ...]``; raise ValueError with a readable message."""
    parsed = []
    for window in windows:
        if not isinstance(window, list | tuple) or len(window) != 2:
            raise ValueError(_("%(window)s is not a window (a start and an end).") % {"window": window})
        try:
            start, end = (datetime.time.fromisoformat(str(value)) for value in window)
        except ValueError:
            raise ValueError(_("%(window)s is not a window of hours and minutes (HH:MM).")
                             % {"window": "-".join(map(str, window))}) from None
        parsed.append((start, end))
    return _checked(parsed)


def _checked(windows: list[tuple[datetime.time, datetime.time]]) -> tuple[tuple[datetime.time, datetime.time], ...]:
    if not windows:
        raise ValueError(_("At least one window is needed."))
    windows = sorted(windows)
    for start, end in windows:
        if start.second or end.second or start.microsecond or end.microsecond:
            raise ValueError(_("Windows are given in hours and minutes."))
        if start >= end:
            raise ValueError(_("%(window)s ends before it starts (a window cannot span midnight).")
                             % {"window": f"{start:%H:%M}-{end:%H:%M}"})
    for (_start, end), (next_start, _end) in zip(windows, windows[1:], strict=False):
        if next_start < end:
            raise ValueError(_("The windows overlap around %(time)s.") % {"time": f"{next_start:%H:%M}"})
    return tuple(windows)


def parse_windows(text: str) -> list[list[str]]:
    """Read windows typed as ``"10:00-13:00, 14:00-20:00"`` into their JSON form; raise ValueError when invalid."""
    parsed = []
    for part in filter(None, (piece.strip() for piece in re.split(r"[,;\n]", text or ""))):
        match = _WINDOW.match(part)
        if not match:
            raise ValueError(_("“%(part)s” is not a window like 10:00-13:00.") % {"part": part})
        hours = [int(value) for value in match.groups()]
        if hours[0] > 23 or hours[2] > 23 or hours[1] > 59 or hours[3] > 59:
            raise ValueError(_("“%(part)s” is not a time of day.") % {"part": part})
        parsed.append((datetime.time(hours[0], hours[1]), datetime.time(hours[2], hours[3])))
    return [[f"{start:%H:%M}", f"{end:%H:%M}"] for start, end in _checked(parsed)]


def format_windows(windows: Iterable[Sequence[str]]) -> str:
    """Write windows the way ``parse_windows`` reads them."""
    return ", ".join(f"{start}-{end}" for start, end in windows)


def looser_than_french(*, days: Iterable[int], windows: Iterable[Sequence[str]], skip_public_holidays: bool,
                       max_attempts: int, attempts_period_days: int, refusal_cooldown_days: int) -> list[str]:
    """Return the ways these rules are looser than D.223-9 (empty when they are the same or stricter)."""
    problems = []
    if not set(days) <= set(FRENCH_DAYS):
        problems.append("days")
    if not all(any(legal_start <= start and end <= legal_end for legal_start, legal_end in FRENCH_RULES.windows)
               for start, end in windows_from_json(windows)):
        problems.append("windows")
    if not skip_public_holidays:
        problems.append("public_holidays")
    if max_attempts > FRENCH_MAX_ATTEMPTS or attempts_period_days < FRENCH_ATTEMPTS_PERIOD_DAYS:
        problems.append("attempts")
    if refusal_cooldown_days < FRENCH_REFUSAL_COOLDOWN_DAYS:
        problems.append("refusal_cooldown")
    return problems


def consent_required(*, audience_is_consumers: bool, basis_is_consent: bool, ongoing_contract: bool,
                     on: datetime.date) -> bool:
    """Whether canvassing these people on day ``on`` lacks the prior consent L.223-1 asks for."""
    return audience_is_consumers and not basis_is_consent and not ongoing_contract and on >= CONSENT_REQUIRED_FROM


# --- public holidays -----------------------------------------------------------------------------------------------


def easter_sunday(year: int) -> datetime.date:
    """Return Easter Sunday of a Gregorian year (the anonymous computus of Meeus, Jones and Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return datetime.date(year, month, day + 1)


@lru_cache(maxsize=256)
def public_holidays(year: int, zone: str) -> frozenset[datetime.date]:
    """Return the days of ``year`` on which a callee in ``zone`` is not called (see the module's notes)."""
    easter = easter_sunday(year)
    days = {datetime.date(year, month, day) for month, day in _NATIONAL_FIXED}
    days |= {easter + datetime.timedelta(days=offset) for offset in (1, 39, 50)}  # Monday, Ascension, Whit Monday
    if zone == METROPOLITAN_ZONE:
        days.add(easter - datetime.timedelta(days=2))  # Good Friday (Alsace-Moselle)
        days |= {datetime.date(year, month, day) for month, day in _ALSACE_MOSELLE_FIXED}
    if zone in _TERRITORY_DAYS:
        days.add(datetime.date(year, *_TERRITORY_DAYS[zone]))
    return frozenset(days)


# --- the callee's time zones ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_zone(name: str) -> bool:
    return name in _known_zones()


def callee_zones(*, phone: str | phonenumbers.PhoneNumber, contact_zone: str = "",
                 default_zone: str = METROPOLITAN_ZONE) -> tuple[str, ...]:
    """Return the time zones the callee may be in: the contact's own, else the number's, else ``default_zone``.

    ``phone`` is in E.164, or already parsed (the dialer parses each number once). A number can map to several
    zones (a North American toll-free number maps to dozens); the dialer then calls only at an instant that is
    allowed in every one of them.
    """
    if contact_zone and is_known_zone(contact_zone):
        return (contact_zone,)
    try:
        number = phone if isinstance(phone, phonenumbers.PhoneNumber) else phonenumbers.parse(phone, None)
        zones = phone_timezones.time_zones_for_number(number)
    except phonenumbers.NumberParseException:
        zones = ()
    known = tuple(sorted(zone for zone in zones if zone != _UNKNOWN_ZONE and is_known_zone(zone)))
    return known or (default_zone,)


# --- the verdict ---------------------------------------------------------------------------------------------------


def _localise(day: datetime.date, clock: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """Return the UTC instant the wall clock of ``zone`` shows ``clock`` on ``day`` (past a gap, first of a repeat)."""
    return datetime.datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _day_refusal(rules: CallingRules, zone: str, day: datetime.date) -> str:
    if day.weekday() not in rules.days:
        return NOT_A_CALLING_DAY
    if rules.skip_public_holidays and day in public_holidays(day.year, zone):
        return PUBLIC_HOLIDAY
    return ""


def _intervals(rules: CallingRules, zone: str, first_day: datetime.date, days: int) -> Iterator[tuple]:
    """Yield the allowed ``[start, end)`` UTC intervals of ``zone`` from ``first_day`` on, in order."""
    info = ZoneInfo(zone)
    for offset in range(days):
        day = first_day + datetime.timedelta(days=offset)
        if not _day_refusal(rules, zone, day):
            for start, end in rules.windows:
                yield _localise(day, start, info), _localise(day, end, info)


def _refusal_in(rules: CallingRules, zone: str, when: datetime.datetime) -> str:
    day = when.astimezone(ZoneInfo(zone)).date()
    refusal = _day_refusal(rules, zone, day)
    if refusal:
        return refusal
    if any(start <= when < end for start, end in _intervals(rules, zone, day, 1)):
        return ""
    return OUTSIDE_WINDOW


def _intersection(left: list[tuple], right: list[tuple]) -> list[tuple]:
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def next_allowed(rules: CallingRules, zones: Sequence[str], when: datetime.datetime) -> datetime.datetime | None:
    """Return the first instant at or after ``when`` allowed in every zone (None if none within HORIZON_DAYS)."""
    first_day = when.astimezone(UTC).date() - datetime.timedelta(days=1)  # a zone ahead of UTC may be a day on
    common = None
    for zone in zones:
        intervals = [interval for interval in _intervals(rules, zone, first_day, HORIZON_DAYS + 2)
                     if interval[1] > when]
        common = intervals if common is None else _intersection(common, intervals)
    return max(common[0][0], when.astimezone(UTC)) if common else None


def allowed_at(rules: CallingRules, zones: Sequence[str], when: datetime.datetime) -> Verdict:
    """Say whether a call at ``when`` (aware) is allowed in every one of ``zones``; if not, why and when it is."""
    if when.tzinfo is None:
        raise ValueError("allowed_at() needs an aware datetime.")
    for zone in zones:
        reason = _refusal_in(rules, zone, when)
        if reason:
            return Verdict(False, reason, next_allowed(rules, zones, when))
    return Verdict(True, "", when.astimezone(UTC))

