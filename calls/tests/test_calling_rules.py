from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from calls.calling_rules import (
    FRENCH_RULES,
    NOT_A_CALLING_DAY,
    OUTSIDE_WINDOW,
    PUBLIC_HOLIDAY,
    CallingRules,
    allowed_at,
    callee_zones,
    consent_required,
    easter_sunday,
    format_windows,
    looser_than_french,
    parse_windows,
    public_holidays,
    windows_from_json,
)

# Windows, days and holidays at given instants: the rules read no clock of their own.
pytestmark = pytest.mark.clock

PARIS = ZoneInfo("Europe/Paris")
FR = ("Europe/Paris",)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- windows at their edges (Tuesday 24 November 2026, winter time, UTC+1) ----------------------------------------

@pytest.mark.parametrize(("local", "allowed", "next_utc"), [
    (paris(2026, 11, 24, 9, 59, 59), False, utc(2026, 11, 24, 9, 0)),
    (paris(2026, 11, 24, 10, 0), True, utc(2026, 11, 24, 9, 0)),
    (paris(2026, 11, 24, 12, 59), True, utc(2026, 11, 24, 11, 59)),
    (paris(2026, 11, 24, 12, 59, 59), True, utc(2026, 11, 24, 11, 59, 59)),
    (paris(2026, 11, 24, 13, 0), False, utc(2026, 11, 24, 13, 0)),
    (paris(2026, 11, 24, 13, 59, 59), False, utc(2026, 11, 24, 13, 0)),
    (paris(2026, 11, 24, 14, 0), True, utc(2026, 11, 24, 13, 0)),
    (paris(2026, 11, 24, 19, 59), True, utc(2026, 11, 24, 18, 59)),
    (paris(2026, 11, 24, 20, 0), False, utc(2026, 11, 25, 9, 0)),
    (paris(2026, 11, 24, 23, 30), False, utc(2026, 11, 25, 9, 0)),
])
def test_windows_are_half_open_on_the_local_clock(local, allowed, next_utc):
    verdict = allowed_at(FRENCH_RULES, FR, local)
    assert verdict.allowed is allowed
    assert verdict.reason == ("" if allowed else OUTSIDE_WINDOW)
    assert verdict.next_allowed == next_utc


def test_an_allowed_instant_given_in_another_zone_is_read_in_the_callees():
    # 09:30 UTC is 10:30 in Paris: allowed, and the verdict's instant is in UTC
    verdict = allowed_at(FRENCH_RULES, FR, utc(2026, 11, 24, 9, 30))
    assert verdict == (True, "", utc(2026, 11, 24, 9, 30))
    assert verdict.next_allowed.tzinfo is UTC


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError):
        allowed_at(FRENCH_RULES, FR, datetime(2026, 11, 24, 11, 0))


# --- days and holidays ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("local", [paris(2026, 11, 28, 11, 0), paris(2026, 11, 29, 11, 0)])
def test_no_call_at_the_weekend_and_the_next_is_monday_morning(local):
    assert allowed_at(FRENCH_RULES, FR, local) == (False, NOT_A_CALLING_DAY, utc(2026, 11, 30, 9, 0))


@pytest.mark.parametrize(("local", "next_utc"), [
    (paris(2026, 7, 14, 11, 0), utc(2026, 7, 15, 8, 0)),  # Bastille Day, a Tuesday
    (paris(2027, 3, 29, 11, 0), utc(2027, 3, 30, 8, 0)),  # Easter Monday 2027
    (paris(2027, 5, 6, 11, 0), utc(2027, 5, 7, 8, 0)),  # Ascension 2027 (Easter + 39)
    (paris(2026, 5, 14, 11, 0), utc(2026, 5, 15, 8, 0)),  # Ascension 2026
    (paris(2027, 5, 17, 11, 0), utc(2027, 5, 18, 8, 0)),  # Whit Monday 2027
    (paris(2026, 12, 25, 11, 0), utc(2026, 12, 28, 9, 0)),  # Christmas, a Friday: next is Monday
])
def test_public_holidays_are_skipped(local, next_utc):
    assert allowed_at(FRENCH_RULES, FR, local) == (False, PUBLIC_HOLIDAY, next_utc)


def test_holidays_can_be_allowed_by_the_rules():
    rules = CallingRules(FRENCH_RULES.days, FRENCH_RULES.windows, skip_public_holidays=False)
    assert allowed_at(rules, FR, paris(2026, 7, 14, 11, 0)).allowed


@pytest.mark.parametrize(("year", "easter"), [
    (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)), (2027, date(2027, 3, 28)),
    (2038, date(2038, 4, 25)), (2285, date(2285, 3, 22)), (2000, date(2000, 4, 23)),
])
def test_computus(year, easter):
    assert easter_sunday(year) == easter


def test_the_holiday_calendars():
    national = {date(2027, 1, 1), date(2027, 3, 29), date(2027, 5, 1), date(2027, 5, 6), date(2027, 5, 8),
                date(2027, 5, 17), date(2027, 7, 14), date(2027, 8, 15), date(2027, 11, 1), date(2027, 11, 11),
                date(2027, 12, 25)}
    alsace_moselle = {date(2027, 3, 26), date(2027, 12, 26)}  # Good Friday and St Stephen's day
    assert public_holidays(2027, "Europe/Paris") == national | alsace_moselle
    assert public_holidays(2027, "America/Martinique") == national | {date(2027, 5, 22)}
    assert public_holidays(2027, "Indian/Reunion") == national | {date(2027, 12, 20)}
    assert public_holidays(2027, "America/New_York") == national


def test_an_overseas_callee_keeps_their_own_holiday_and_not_alsace_mosselles():
    martinique = ("America/Martinique",)
    # 22 May 2026 (a Friday) is the abolition of slavery day in Martinique, not in Paris
    assert allowed_at(FRENCH_RULES, martinique, utc(2026, 5, 22, 15, 0)).reason == PUBLIC_HOLIDAY
    assert allowed_at(FRENCH_RULES, FR, utc(2026, 5, 22, 9, 0)).allowed
    # Good Friday 2027 is skipped in metropolitan France only
    assert allowed_at(FRENCH_RULES, FR, utc(2027, 3, 26, 10, 0)).reason == PUBLIC_HOLIDAY
    assert allowed_at(FRENCH_RULES, martinique, utc(2027, 3, 26, 15, 0)).allowed


# --- daylight-saving changes ---------------------------------------------------------------------------------------

def test_autumn_change_the_next_window_opens_at_ten_winter_time():
    # Friday 23 October 2026 after 20:00 summer time (UTC+2); clocks go back on Sunday 25th; Monday is UTC+1
    verdict = allowed_at(FRENCH_RULES, FR, paris(2026, 10, 23, 20, 0))
    assert verdict == (False, OUTSIDE_WINDOW, utc(2026, 10, 26, 9, 0))
    assert not allowed_at(FRENCH_RULES, FR, utc(2026, 10, 26, 8, 59, 59)).allowed  # 09:59:59 local
    assert allowed_at(FRENCH_RULES, FR, utc(2026, 10, 26, 9, 0)).allowed  # 10:00 local
    assert not allowed_at(FRENCH_RULES, FR, utc(2026, 10, 26, 19, 0)).allowed  # 20:00 local
    assert allowed_at(FRENCH_RULES, FR, utc(2026, 10, 23, 17, 59)).allowed  # 19:59 summer time


def test_spring_change_over_a_weekend_and_easter_and_good_friday():
    # Thursday 25 March 2027 after 20:00 (UTC+1): Good Friday (Alsace-Moselle), the weekend with the change to
    # summer time on Sunday 28th, Easter Monday 29th: the next window is Tuesday 30th 10:00 summer time, 08:00 UTC
    verdict = allowed_at(FRENCH_RULES, FR, paris(2027, 3, 25, 20, 0))
    assert verdict == (False, OUTSIDE_WINDOW, utc(2027, 3, 30, 8, 0))
    assert not allowed_at(FRENCH_RULES, FR, utc(2027, 3, 30, 7, 59, 59)).allowed
    assert allowed_at(FRENCH_RULES, FR, utc(2027, 3, 30, 8, 0)).allowed
    assert allowed_at(FRENCH_RULES, FR, utc(2027, 3, 30, 17, 59, 59)).allowed  # 19:59:59 summer time
    assert not allowed_at(FRENCH_RULES, FR, utc(2027, 3, 30, 18, 0)).allowed


def test_a_window_starting_in_the_spring_gap_opens_after_it():
    rules = CallingRules(frozenset(range(7)), windows_from_json([["02:30", "04:00"]]), skip_public_holidays=False)
    # 02:30 does not exist on 28 March 2027 in Paris: the clock jumps from 02:00 to 03:00 (01:00 UTC)
    assert allowed_at(rules, FR, utc(2027, 3, 28, 0, 0)).next_allowed == utc(2027, 3, 28, 1, 30)
    assert allowed_at(rules, FR, utc(2027, 3, 28, 1, 30)).allowed


# --- the callee's time zones ---------------------------------------------------------------------------------------

def test_zones_come_from_the_contact_then_the_number_then_the_default():
    assert callee_zones(phone="+33612345678") == ("Europe/Paris",)
    assert callee_zones(phone="+596696123456") == ("America/Martinique",)
    assert callee_zones(phone="+262692123456") == ("Indian/Mayotte", "Indian/Reunion")
    assert callee_zones(phone="+33612345678", contact_zone="America/Cayenne") == ("America/Cayenne",)
    assert callee_zones(phone="+33612345678", contact_zone="Mars/Olympus") == ("Europe/Paris",)
    assert callee_zones(phone="+882123456789", default_zone="Europe/Brussels") == ("Europe/Brussels",)
    assert callee_zones(phone="not a number", default_zone="Europe/Brussels") == ("Europe/Brussels",)


def test_a_martinique_number_is_called_on_martinique_time():
    zones = callee_zones(phone="+596696123456")  # UTC-4 all year
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 13, 59)) == (False, OUTSIDE_WINDOW,
                                                                          utc(2026, 11, 24, 14, 0))
    assert allowed_at(FRENCH_RULES, FR, utc(2026, 11, 24, 13, 59)).allowed  # 14:59 in Paris
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 23, 59)).allowed  # 19:59 in Martinique
    assert not allowed_at(FRENCH_RULES, zones, utc(2026, 11, 25, 0, 0)).allowed  # 20:00 in Martinique


def test_a_reunion_number_must_be_allowed_in_both_of_its_zones():
    zones = callee_zones(phone="+262692123456")  # Mayotte UTC+3, Réunion UTC+4
    verdict = allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 6, 30))  # 10:30 in Réunion, 09:30 in Mayotte
    assert verdict == (False, OUTSIDE_WINDOW, utc(2026, 11, 24, 7, 0))
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 8, 59)).allowed  # 12:59 / 11:59
    # 13:00 in Réunion is its lunch break; Mayotte's opens at 14:00 local = 11:00 UTC = 15:00 in Réunion
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 9, 0)).next_allowed == utc(2026, 11, 24, 11, 0)


def test_a_north_american_number_with_two_zones_uses_their_common_hours():
    zones = callee_zones(phone="+12085550123")  # Idaho: Boise (UTC-7) and Los Angeles (UTC-8) in November
    assert zones == ("America/Boise", "America/Los_Angeles")
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 17, 30)).next_allowed == utc(2026, 11, 24, 18, 0)
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 18, 0)).allowed  # 10:00 in LA, 11:00 in Boise
    # 12:30 in LA is 13:30 in Boise: lunch there; next is 14:00 in LA (15:00 in Boise)
    assert allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 20, 30)) == (False, OUTSIDE_WINDOW,
                                                                          utc(2026, 11, 24, 22, 0))


def test_a_number_spread_over_too_many_zones_has_no_allowed_time():
    zones = callee_zones(phone="+18005550123")  # toll-free: from Guam to Hawaii
    assert len(zones) > 10
    verdict = allowed_at(FRENCH_RULES, zones, utc(2026, 11, 24, 18, 0))
    assert (verdict.allowed, verdict.next_allowed) == (False, None)


# --- windows as text, and the French profile -----------------------------------------------------------------------

def test_windows_are_read_and_written_as_text():
    assert parse_windows("10:00-13:00, 14:00 – 20:00") == [["10:00", "13:00"], ["14:00", "20:00"]]
    assert parse_windows("14:00-20:00;9:05-12:00") == [["09:05", "12:00"], ["14:00", "20:00"]]
    assert format_windows([["10:00", "13:00"], ["14:00", "20:00"]]) == "10:00-13:00, 14:00-20:00"


@pytest.mark.parametrize(("text", "message"), [
    ("10-13", "is not a window"), ("13:00-10:00", "ends before it starts"),
    ("10:00-13:00, 12:00-14:00", "overlap"), ("25:00-26:00", "not a time of day"), ("", "At least one"),
])
def test_bad_windows_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_windows(text)


def test_adjacent_windows_leave_no_gap():
    rules = CallingRules(FRENCH_RULES.days, windows_from_json(parse_windows("10:00-13:00, 13:00-14:00")))
    assert allowed_at(rules, FR, paris(2026, 11, 24, 13, 0)).allowed
    assert not allowed_at(rules, FR, paris(2026, 11, 24, 14, 0)).allowed


def test_consumer_rules_may_be_stricter_never_looser():
    french = dict(days=[0, 1, 2, 3, 4], windows=[["10:00", "13:00"], ["14:00", "20:00"]], skip_public_holidays=True,
                  max_attempts=4, attempts_period_days=30, refusal_cooldown_days=60)
    assert looser_than_french(**french) == []
    assert looser_than_french(**{**french, "days": [1, 3], "windows": [["10:30", "12:00"]], "max_attempts": 2,
                                   "attempts_period_days": 45, "refusal_cooldown_days": 90}) == []
    looser = {**french, "days": [0, 5], "windows": [["09:00", "13:00"]], "skip_public_holidays": False,
              "max_attempts": 5, "refusal_cooldown_days": 59}
    assert looser_than_french(**looser) == ["days", "windows", "public_holidays", "attempts", "refusal_cooldown"]
    assert looser_than_french(**{**french, "windows": [["12:00", "15:00"]]}) == ["windows"]  # spans the break
    assert looser_than_french(**{**french, "attempts_period_days": 29}) == ["attempts"]


def test_consent_is_required_for_consumer_canvassing_from_11_august_2026():
    rule = dict(audience_is_consumers=True, basis_is_consent=False, ongoing_contract=False)
    assert not consent_required(**rule, on=date(2026, 8, 10))
    assert consent_required(**rule, on=date(2026, 8, 11))
    assert not consent_required(**{**rule, "basis_is_consent": True}, on=date(2026, 8, 11))
    assert not consent_required(**{**rule, "ongoing_contract": True}, on=date(2026, 8, 11))
    assert not consent_required(**{**rule, "audience_is_consumers": False}, on=date(2026, 8, 11))
