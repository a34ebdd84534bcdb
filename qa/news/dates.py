"""Dates in an article, resolved against its publication date: "on Tuesday" in a story published on
Wednesday 12 May 2021 is Tuesday 11 May 2021; "last week", "overnight", "earlier this month" are ranges.

The arithmetic is dateutil's (relativedelta with weekday offsets, its parser for written dates); the
rules are the newsroom conventions: a bare weekday is the latest such day on or before publication, or
the next one when the sentence speaks of the future ("will travel on Friday")."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil import parser as date_parser
from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta

_WEEKDAYS = {"monday": MO, "tuesday": TU, "wednesday": WE, "thursday": TH, "friday": FR, "saturday": SA,
             "sunday": SU}
_MONTH_NAMES = "January|February|March|April|May|June|July|August|September|October|November|December"
_MONTH = rf"(?:{_MONTH_NAMES}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
_PATTERN = re.compile(
    r"\b(?:"
    rf"(?P<written>{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}"
    rf"(?:,?\s+\d{{4}})?|{_MONTH}\s+\d{{4}})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    r"|(?:(?P<which>last|next|this|on|early|late|earlier|later)\s+(?:on\s+)?)?"
    r"(?P<weekday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?P<part>\s+(?:morning|afternoon|"
    r"evening|night))?"
    r"|(?P<relative>today|tonight|yesterday|tomorrow|overnight|this\s+(?:morning|afternoon|evening)|"
    r"last\s+night|(?:earlier\s+|later\s+)?(?:this|last|next)\s+(?:week|month|year)|"
    r"(?:a|one|two|three|\d+)\s+(?:days?|weeks?)\s+ago)"
    # A month named without its year or day, after a word that makes it a time ("in January", "since May",
    # "last March", "in early June"); capitalised, so "may" the verb is never one.
    rf"|(?P<month_which>in|since|until|till|by|through|throughout|during|from|before|after|last|next|this)\s+"
    rf"(?:(?:early|late|mid)[\s-]+)?(?P<month>(?-i:{_MONTH_NAMES}))(?!\s*\d|-)"
    r")\b",
    re.I,
)
_FUTURE = re.compile(r"\b(will|shall|is to|are to|is due|are due|plans? to|is expected to|are expected to|"
                     r"is scheduled|are scheduled|next|upcoming|tomorrow)\b", re.I)
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3}
# A weekday that names no one day: a rule ("the third Monday of February", "every Friday", "on a Sunday")
# or a named day ("Black Friday", "Super Tuesday"), which is not the latest such day before publication.
_NOT_ONE_DAY_BEFORE = re.compile(r"\b(?:first|second|third|fourth|fifth|final|every|each|any|a|black|good|super|"
                                 r"cyber|giving|ash|easter|palm|bloody|holy|maundy)\s+$", re.I)
_NOT_ONE_DAY_AFTER = re.compile(rf"\s+(?:of|in)\s+(?:each\s+|every\s+|the\s+month\b|{_MONTH}(?!\s+\d))", re.I)
# ... or part of a title ("Freaky Friday"): a bare weekday right after a capitalised word that is not a
# sentence's opening function word ("Since Tuesday").
_NAME_BEFORE = re.compile(r"(?<![\w.])(?!(?:On|Last|Next|This|Early|Late|Earlier|Later|By|Since|Until|Till|Before|"
                          r"After|From|Through|And|Or|But|Then|Every|Each|Of|For|As|At|In|That|The)\s)"
                          r"[A-Z][a-z]+\s+$")
# A weekday followed by the date it is ("died Tuesday, Nov. 3"): the written date says it, not the weekday.
_DATE_AFTER = re.compile(rf",?\s+(?:the\s+)?(?:{_MONTH}\s+\d{{1,2}}\b|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH})",
                         re.I)
# A month after a weekday is a rule's ("the third Monday in January"), not a time.
_WEEKDAY_BEFORE = re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?\s+$", re.I)
# "The next year", "the last week": a narrated time, not one counted from publication.
_THE_BEFORE = re.compile(r"\bthe\s+$", re.I)


def _names_no_day(text: str, match: re.Match) -> bool:
    """Whether a match is not a day or period to resolve: "USA TODAY" (a name in capitals), "the next
    year" (in a story's past), a weekday that is a rule, a title or followed by its written date."""
    start, end = match.span()
    if len(match.group(0)) > 3 and match.group(0).isupper():
        return True
    before = text[max(0, start - 24) : start]
    relative = match.group("relative")
    if relative:
        return relative[:4].lower() in ("this", "last", "next") and bool(_THE_BEFORE.search(before))
    if match.group("month"):  # "the next May" (narrated); "the third Monday in January" (a rule)
        return bool(match.group("month_which").lower() in ("this", "last", "next") and _THE_BEFORE.search(before)
                    or _WEEKDAY_BEFORE.search(before))
    if not match.group("weekday"):
        return False
    return bool(_NOT_ONE_DAY_BEFORE.search(before) or _NOT_ONE_DAY_AFTER.match(text, end)
                or _DATE_AFTER.match(text, end) or (not match.group("which") and _NAME_BEFORE.search(before)))


@dataclass(frozen=True)
class DateMention:
    start: int  # offsets into the text
    end: int
    text: str
    date: str  # ISO date: the day, or the first day of a range
    until: str | None = None  # last day of a range ("last week"), inclusive

    @property
    def label(self) -> str:
        """How an answer says it: "11 May 2021", "3-9 May 2021"."""
        return date_label(self.date, self.until)


def date_label(first: str, last: str | None = None) -> str:
    a = dt.date.fromisoformat(first)
    if not last or last == first:
        return f"{a.day} {a:%B %Y}"
    b = dt.date.fromisoformat(last)
    if a.day == 1 and b == a + relativedelta(months=1, days=-1):
        return f"{a:%B %Y}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}-{b.day} {a:%B %Y}"
    return f"{a.day} {a:%B %Y} - {b.day} {b:%B %Y}"


def parse_published(published: str | None) -> dt.date | None:
    if not published:
        return None
    try:
        return dt.date.fromisoformat(published[:10])
    except ValueError:
        return None


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start))
    right = min([i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0] or [len(text)])
    return text[left + 1 : right]


def resolve(text: str, published: str | None) -> list[DateMention]:
    """Every date or day the text names, resolved against the publication date (ISO). Without one, only
    dates written in full are returned: a bare "Tuesday" is never guessed."""
    base = parse_published(published)
    found: list[DateMention] = []
    for match in _PATTERN.finditer(text):
        span = (match.start(), match.end())
        if _names_no_day(text, match):
            continue
        days = _resolve_match(match, base, _sentence_around(text, *span))
        if days is not None:
            first, last = days
            found.append(DateMention(span[0], span[1], match.group(0), first.isoformat(),
                                     last.isoformat() if last != first else None))
    return found


def _resolve_match(match: re.Match, base: dt.date | None, sentence: str) -> tuple[dt.date, dt.date] | None:
    if match.group("iso"):
        try:
            day = dt.date.fromisoformat(match.group("iso"))
        except ValueError:
            return None
        return day, day
    if match.group("written"):
        return _written(match.group("written"), base)
    if base is None:
        return None
    if match.group("month"):
        return _month(match.group("month"), match.group("month_which").lower(), base, sentence)
    if match.group("weekday"):
        weekday = _WEEKDAYS[match.group("weekday").lower()]
        which = (match.group("which") or "").lower()
        if which == "next" or (which not in ("last", "earlier") and _FUTURE.search(sentence)):
            day = base + relativedelta(days=1, weekday=weekday(+1)) if which == "next" else base + relativedelta(weekday=weekday(+1))
        elif which == "last":
            day = base + relativedelta(days=-1, weekday=weekday(-1))
        else:
            day = base + relativedelta(weekday=weekday(-1))  # the latest such day on or before publication
        return day, day
    phrase = re.sub(r"\s+", " ", match.group("relative").lower())
    if phrase in ("today", "tonight") or phrase.startswith("this ") and phrase.split()[1] in ("morning", "afternoon",
                                                                                               "evening"):
        return base, base
    if phrase in ("yesterday", "last night"):
        day = base - dt.timedelta(days=1)
        return day, day
    if phrase == "tomorrow":
        day = base + dt.timedelta(days=1)
        return day, day
    if phrase == "overnight":
        return base - dt.timedelta(days=1), base
    ago = re.match(r"(a|one|two|three|\d+) (day|week)s? ago", phrase)
    if ago:
        n = _NUMBERS.get(ago.group(1)) or int(ago.group(1))
        day = base - (dt.timedelta(days=n) if ago.group(2) == "day" else dt.timedelta(weeks=n))
        return day, day
    words = phrase.split()
    unit, which = words[-1], words[-2]
    if unit == "week":
        monday = base - dt.timedelta(days=base.weekday())
        if which == "last":
            return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
        if which == "next":
            return monday + dt.timedelta(days=7), monday + dt.timedelta(days=13)
        return (monday, base) if words[0] == "earlier" else (monday, monday + dt.timedelta(days=6))
    if unit == "month":
        first = base.replace(day=1)
        if which == "last":
            previous = first - dt.timedelta(days=1)
            return previous.replace(day=1), previous
        if which == "next":
            following = first + relativedelta(months=1)
            return following, following + relativedelta(months=1, days=-1)
        return (first, base) if words[0] == "earlier" else (first, first + relativedelta(months=1, days=-1))
    year = base.year - 1 if which == "last" else base.year + 1 if which == "next" else base.year
    if words[0] == "earlier" and which == "this":
        return dt.date(year, 1, 1), base
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _month(name: str, which: str, base: dt.date, sentence: str) -> tuple[dt.date, dt.date]:
    """A month named without its year, the way a bare weekday is read: the latest such month up to
    publication's ("in January" in a December story is the January before), the next one when the sentence
    speaks of the future ("will open in March"); "last"/"next" skip publication's own month, "this" is
    publication's year."""
    month = _MONTH_NAMES.split("|").index(name) + 1
    if which == "this":
        year = base.year
    elif which == "next" or (which != "last" and _FUTURE.search(sentence)):
        year = base.year if month > base.month or (which != "next" and month == base.month) else base.year + 1
    else:
        year = base.year if month < base.month or (which != "last" and month == base.month) else base.year - 1
    first = dt.date(year, month, 1)
    return first, first + relativedelta(months=1, days=-1)


def _written(phrase: str, base: dt.date | None) -> tuple[dt.date, dt.date] | None:
    has_year = re.search(r"\d{4}", phrase) is not None
    has_day = re.search(r"(?<!\d)\d{1,2}(?!\d)", phrase) is not None
    if not has_year and base is None:
        return None
    default = dt.datetime(base.year if base else 2000, 1, 1)
    try:
        parsed = date_parser.parse(phrase.replace(".", ""), default=default, dayfirst=True).date()
    except (ValueError, OverflowError):
        return None
    if not has_day:  # "May 2021": the month
        return parsed.replace(day=1), parsed.replace(day=1) + relativedelta(months=1, days=-1)
    if not has_year and base is not None:
        parsed = _nearest_year(parsed, base)
    return parsed, parsed


def _nearest_year(day: dt.date, base: dt.date) -> dt.date:
    """A date written without its year, in the year that puts it nearest publication, a day ahead counting
    as two behind (news reports more than it announces): "December 30" in a January story is last year's,
    "Feb. 16" in a late-December listing of coming awards next year's, "March 5" in September this year's."""
    def cost(d: dt.date) -> int:
        return (base - d).days if d <= base else 2 * (d - base).days

    options = []
    for year in (base.year - 1, base.year, base.year + 1):
        try:
            options.append(day.replace(year=year))
        except ValueError:  # 29 February
            continue
    return min(options, key=cost) if options else day
