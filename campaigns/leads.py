"""Read a CSV of leads: who they are (a phone number, a LinkedIn profile), their name
and company, and any other column as a custom field for personalization.

Pure Python, no database: `leads_parse` turns the file into leads and per-line errors;
`campaigns.audience` finds or creates the contacts and enrolls them. Line numbers are
the file's own (the header is line 1; a quoted value spanning lines counts them all),
so an operator can open the file at the line an error names.

Rows naming the same person (the same phone number, or the same LinkedIn profile, after
normalization) are merged into one lead: the first non-empty value of each column wins,
and the lines merged are reported.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit

import phonenumbers

from providers.text import unstorable_text

# What a column may be called, after normalization (lower case, "_" between words).
ALIASES = {
    "phone": ("phone", "phone_number", "mobile", "mobile_phone", "cell", "tel", "telephone",
              "whatsapp", "number", "msisdn"),
    "linkedin": ("linkedin", "linkedin_url", "linkedin_profile", "linkedin_id", "profile_url",
                 "profile", "provider_id", "linkedin_profile_url", "public_identifier"),
    "first_name": ("first_name", "firstname", "first", "given_name"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name"),
    "name": ("name", "full_name", "fullname", "contact_name"),
    "company": ("company", "company_name", "organization", "organisation", "account"),
}  # fmt: skip
_COLUMN_OF = {alias: column for column, aliases in ALIASES.items() for alias in aliases}
MAX_VALUE_LENGTH = 1000
MAX_COLUMNS = 100
MAX_ROWS = 100_000  # a campaign's audience; the command may allow more
# linkedin.com/in/<public id>, or /sales/lead/<id>, with any subdomain (www, fr...).
_PROFILE_PATH = re.compile(r"^/(?:in|pub)/([^/?#]+)")
# A LinkedIn member id as Unipile gives it (ACoAA...), or a public identifier (slug).
_PROVIDER_ID = re.compile(r"^ACo[A-Za-z0-9_-]{10,}$")
_SLUG = re.compile(r"^[\w\-%.]{3,100}$", re.UNICODE)
_HEADER_WORD = re.compile(r"[^0-9a-z]+")


class Needs(StrEnum):
    """What identifies a lead on the campaign's channel."""

    PHONE = "phone"  # WhatsApp, SMS
    LINKEDIN = "linkedin"  # LinkedIn through Unipile


@dataclass(frozen=True)
class LineError:
    line: int  # 0: the file as a whole
    field: str
    message: str
    code: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message, "code": self.code}


@dataclass
class Lead:
    """One person to enroll. `fields` holds what personalization may use: first_name,
    last_name, name, company and every custom column (never empty values)."""

    line: int
    phone: str = ""  # E.164
    linkedin: str = ""  # a provider id (ACo...) or a public identifier (slug)
    fields: dict[str, str] = field(default_factory=dict)
    merged_lines: list[int] = field(default_factory=list)  # later rows merged into it

    @property
    def name(self) -> str:
        return self.fields.get("name", "")

    def key(self, needs: Needs) -> str:
        return self.phone if needs == Needs.PHONE else self.linkedin.lower()

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "phone": self.phone,
            "linkedin": self.linkedin,
            "fields": self.fields,
            "merged_lines": self.merged_lines,
        }


@dataclass
class ParsedLeads:
    leads: list[Lead] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    rows: int = 0  # data rows read (blank lines not counted)
    columns: dict[str, str] = field(default_factory=dict)  # header -> what it is read as

    @property
    def duplicates(self) -> int:
        return sum(len(lead.merged_lines) for lead in self.leads)


def leads_parse(
    *,
    data: bytes | str,
    needs: Needs,
    default_region: str | None = None,
    max_rows: int = MAX_ROWS,
) -> ParsedLeads:
    """The leads in a CSV file and what is wrong with it, line by line.

    `default_region` (ISO 3166 code, e.g. "US", "FR") reads numbers written without
    their country code; without it only international numbers (+33..., 0033...) and
    bare digit runs that include the country code are accepted.
    A problem with the file as a whole (not UTF-8, no header, no column naming the
    lead) is one error on line 0 and no leads.
    """
    parsed = ParsedLeads()
    text = _decoded(data, parsed)
    if text is None:
        return parsed
    region = (default_region or "").upper() or None
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        return _fatal(parsed, "default_region", f"{default_region!r} is not a region code.")
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return _fatal(parsed, "file", f"The header cannot be read: {exc}.")
    if not header or not any(cell.strip() for cell in header):
        return _fatal(parsed, "file", "The file is empty: it needs a header line.", "empty")
    columns = _columns(header, needs, parsed)
    if columns is None:
        return parsed
    _read_rows(reader, columns, needs, region, max_rows, parsed)
    return parsed


def _decoded(data: bytes | str, parsed: ParsedLeads) -> str | None:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")  # Excel writes a byte-order mark
        except UnicodeDecodeError as exc:
            _fatal(parsed, "file", f"The file is not UTF-8 text (byte {exc.start}).", "encoding")
            return None
    data = data.removeprefix("\ufeff")
    problem = unstorable_text(data)
    if problem:
        _fatal(parsed, "file", f"The file holds characters that cannot be stored: {problem}.")
        return None
    return data


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon (European spreadsheets) or tab, as the header line uses."""
    first = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _fatal(parsed: ParsedLeads, name: str, message: str, code: str = "invalid") -> ParsedLeads:
    parsed.errors.append(LineError(0, name, message, code))
    return parsed


def _column_name(header: str) -> str:
    return _HEADER_WORD.sub("_", header.strip().lower()).strip("_")


def _columns(header: list[str], needs: Needs, parsed: ParsedLeads) -> list[str] | None:
    """What each column is read as: a known column or a custom field's name."""
    if len(header) > MAX_COLUMNS:
        _fatal(parsed, "file", f"At most {MAX_COLUMNS} columns.", "too_many_columns")
        return None
    columns: list[str] = []
    for position, raw in enumerate(header, start=1):
        name = _column_name(raw)
        column = _COLUMN_OF.get(name, name) or f"column_{position}"
        if column[0].isdigit():
            column = f"column_{column}"  # a placeholder is {{word}}: not starting with a digit
        if column in columns:
            _fatal(parsed, raw or f"column {position}", "Two columns have this name.", "duplicate")
            return None
        columns.append(column)
        parsed.columns[raw] = column
    required = needs.value
    if required not in columns:
        aliases = ", ".join(ALIASES[required])
        _fatal(parsed, required, f"No {required} column (one of: {aliases}).", "missing_column")
        return None
    return columns


def _read_rows(reader, columns, needs, region, max_rows, parsed: ParsedLeads) -> None:
    by_key: dict[str, Lead] = {}
    line = 2
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            parsed.errors.append(LineError(line, "file", f"Unreadable: {exc}.", "invalid"))
            return
        if row is None:
            return
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not rows
        parsed.rows += 1
        if parsed.rows > max_rows:
            parsed.errors.append(
                LineError(start, "file", f"At most {max_rows} rows per file.", "too_many_rows")
            )
            return
        lead = _lead(start, row, columns, needs, region, parsed.errors)
        if lead is None:
            continue
        earlier = by_key.get(lead.key(needs))
        if earlier is None:
            by_key[lead.key(needs)] = lead
            parsed.leads.append(lead)
        else:
            _merge(earlier, lead)


def _lead(line, row, columns, needs, region, errors: list[LineError]) -> Lead | None:
    if len(row) > len(columns):
        extra = [cell for cell in row[len(columns) :] if cell.strip()]
        if extra:
            errors.append(
                LineError(line, "file", f"{len(row)} values for {len(columns)} columns.", "shape")
            )
            return None
    values = {column: cell.strip() for column, cell in zip(columns, row, strict=False)}
    problems = _too_long(line, values)
    lead = Lead(line=line)
    lead.phone = _phone(line, values.pop("phone", ""), region, problems)
    lead.linkedin = _linkedin(line, values.pop("linkedin", ""), problems)
    if not lead.key(needs) and not any(p.field == needs.value for p in problems):
        problems.append(LineError(line, needs.value, f"No {needs.value} on this line.", "required"))
    if problems:
        errors.extend(problems)
        return None
    lead.fields = _with_names({key: value for key, value in values.items() if value})
    return lead


def _too_long(line: int, values: dict[str, str]) -> list[LineError]:
    return [
        LineError(line, column, f"Longer than {MAX_VALUE_LENGTH} characters.", "too_long")
        for column, value in values.items()
        if len(value) > MAX_VALUE_LENGTH
    ]


def _phone(line: int, raw: str, region: str | None, problems: list[LineError]) -> str:
    if not raw:
        return ""
    number = phone_normalize(raw, region)
    if number is None:
        hint = "" if region else " (international format, or choose a default region)"
        problems.append(
            LineError(line, "phone", f"{raw!r} is not a valid phone number{hint}.", "invalid_phone")
        )
        return ""
    return number


def phone_normalize(raw: str, region: str | None) -> str | None:
    """E.164, or None when `raw` is not a valid number (not only a possible one: a lead
    list is typed by people, and a typo should be caught before a campaign sends)."""
    text = raw.strip()
    candidates = [text]
    if not text.startswith("+") and text.replace(" ", "").isdigit():
        # Digits with their country code but no "+" (16505551234): tried after the region.
        candidates.append(f"+{text}")
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _linkedin(line: int, raw: str, problems: list[LineError]) -> str:
    if not raw:
        return ""
    profile = linkedin_normalize(raw)
    if profile is None:
        problems.append(
            LineError(
                line,
                "linkedin",
                f"{raw!r} is not a LinkedIn profile URL (linkedin.com/in/...) or member id.",
                "invalid_linkedin",
            )
        )
        return ""
    return profile


def linkedin_normalize(raw: str) -> str | None:
    """A profile URL's public identifier, or a member id as given; None if neither."""
    text = raw.strip()
    if "linkedin.com" in text.lower():
        url = urlsplit(text if "://" in text else f"https://{text}")
        if not (url.hostname or "").endswith("linkedin.com"):
            return None
        match = _PROFILE_PATH.match(url.path)
        return unquote(match.group(1)).lower() if match else None
    if _PROVIDER_ID.match(text):
        return text  # case matters in a member id
    if "/" not in text and _SLUG.match(text):
        return unquote(text).lower()
    return None


def _with_names(fields: dict[str, str]) -> dict[str, str]:
    """first_name/last_name from `name` and the other way round, so that either kind of
    file personalizes `{{first_name}}` and shows a contact's name."""
    if "name" in fields and "first_name" not in fields:
        first, _, rest = fields["name"].partition(" ")
        fields["first_name"] = first
        if rest.strip() and "last_name" not in fields:
            fields["last_name"] = rest.strip()
    if "name" not in fields:
        full = " ".join(fields[k] for k in ("first_name", "last_name") if k in fields)
        if full:
            fields["name"] = full
    return fields


def _merge(earlier: Lead, later: Lead) -> None:
    earlier.merged_lines.append(later.line)
    earlier.phone = earlier.phone or later.phone
    earlier.linkedin = earlier.linkedin or later.linkedin
    for key, value in later.fields.items():
        earlier.fields.setdefault(key, value)


def leads_from_records(
    *, records: Iterable[dict], needs: Needs, default_region: str | None = None
) -> ParsedLeads:
    """The same rules for leads given as JSON objects (the API's bulk add): item N of
    the list is reported as "line" N (from 1)."""
    parsed = ParsedLeads()
    by_key: dict[str, Lead] = {}
    region = (default_region or "").upper() or None
    for position, record in enumerate(records, start=1):
        parsed.rows += 1
        names = [_column_name(str(k)) or f"column_{i}" for i, k in enumerate(record, start=1)]
        columns = [_COLUMN_OF.get(name, name) for name in names]
        row = ["" if v is None else str(v) for v in record.values()]
        lead = _lead(position, row, columns, needs, region, parsed.errors)
        if lead is None:
            continue
        earlier = by_key.get(lead.key(needs))
        if earlier is None:
            by_key[lead.key(needs)] = lead
            parsed.leads.append(lead)
        else:
            _merge(earlier, lead)
    return parsed
