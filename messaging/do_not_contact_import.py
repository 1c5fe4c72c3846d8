"""Importing a do-not-contact list from a CSV file (the admin's upload page and
POST /api/v1/do-not-contact/import share this).

The file: one value per line, with a header row naming its columns (`phone`,
`linkedin`, `note`, or the aliases below), or without one: the number first, an
optional note second. Numbers are normalized to E.164 with `phonenumbers` and must be
valid in their region; a number written without "+" is read in `default_region`.

Nothing is half-imported: `do_not_contact_import_plan` reads the whole file first and
reports every invalid line; `do_not_contact_import` stores nothing if any line is
invalid, unless the caller asks for the valid lines only (`only_valid`), and then
stores them in one transaction. Duplicates within the file are merged (the first
line's note is kept); values already on the list are skipped and counted.
"""

import csv
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from messaging.do_not_contact import do_not_contact_normalize
from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource
from providers.phones import InvalidPhoneNumberError, phone_region
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Organization

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
# The lines an answer describes; the counts cover every line.
MAX_REPORTED_LINES = 1000
MAX_NOTE_LENGTH = DoNotContact._meta.get_field("note").max_length
COLUMNS = {
    DoNotContactKind.PHONE: {"phone", "phone_number", "number", "mobile", "e164", "telephone"},
    DoNotContactKind.LINKEDIN: {"linkedin", "linkedin_id", "provider_id"},
    "note": {"note", "notes", "reason", "comment"},
}
_LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class Candidate:
    line: int
    kind: str
    value: str
    note: str


@dataclass
class ImportPlan:
    """What importing the file would do."""

    rows: int = 0
    new: list[Candidate] = field(default_factory=list)
    duplicates: int = 0
    skipped: int = 0  # already on the list
    errors: dict[int, list[dict]] = field(default_factory=dict)  # line -> [{message, code}]

    @property
    def invalid(self) -> int:
        return len(self.errors)

    def error(self, line: int, message: str, code: str = "invalid") -> None:
        self.errors.setdefault(line, []).append({"message": message, "code": code})

    def counts(self, *, added: int | None = None) -> dict:
        return {
            "rows": self.rows,
            "added": len(self.new) if added is None else added,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "lines": {
                str(line): self.errors[line] for line in sorted(self.errors)[:MAX_REPORTED_LINES]
            },
        }


def import_region(code: str | None) -> str | None:
    """The region for numbers without "+": the one given, else DEFAULT_PHONE_REGION."""
    try:
        return phone_region(code) or phone_region(settings.DEFAULT_PHONE_REGION)
    except InvalidPhoneNumberError as exc:
        raise field_error("default_region", str(exc)) from exc


def import_text(raw: bytes) -> str:
    """The file's text; 400 on `file` when it is too large, not UTF-8, or holds NULs."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise ApplicationError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The file is larger than {MAX_IMPORT_BYTES} bytes: split it.",
            details={"max_bytes": MAX_IMPORT_BYTES},
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise field_error("file", "The file is not UTF-8 text (save it as CSV UTF-8).") from exc
    if "\x00" in text:
        raise field_error("file", "The file holds NUL characters: it is not a CSV file.")
    return text


def do_not_contact_import_plan(
    *, organization: Organization, text: str, default_region: str | None
) -> ImportPlan:
    plan = ImportPlan()
    seen: set[tuple[str, str]] = set()
    for line, cells in _rows(text, plan):
        plan.rows += 1
        for candidate in _candidates(line, cells, plan, default_region):
            key = (candidate.kind, candidate.value)
            if key in seen:
                plan.duplicates += 1
                continue
            seen.add(key)
            plan.new.append(candidate)
    listed = _already_listed(organization, seen)
    plan.skipped = sum(1 for c in plan.new if (c.kind, c.value) in listed)
    plan.new = [c for c in plan.new if (c.kind, c.value) not in listed]
    return plan


def do_not_contact_import(
    *,
    organization: Organization,
    text: str,
    default_region: str | None,
    only_valid: bool = False,
    source: str = DoNotContactSource.IMPORT,
    added_by=None,
) -> ImportPlan:
    """Store the file's new values, all at once. With an invalid line and without
    `only_valid`: 400 VALIDATION_ERROR, details the counts and `lines` (per line,
    [{message, code}]); nothing is stored."""
    plan = do_not_contact_import_plan(
        organization=organization, text=text, default_region=default_region
    )
    if plan.errors and not only_valid:
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            f"{plan.invalid} line(s) of the file are invalid: nothing was imported.",
            details=plan.counts(added=0),
        )
    with transaction.atomic():
        # Conflicts: a value added by someone else since the plan was made is on the
        # list either way.
        DoNotContact.objects.bulk_create(
            [
                DoNotContact(
                    organization=organization,
                    kind=c.kind,
                    value=c.value,
                    note=c.note,
                    source=source,
                    added_by=added_by,
                )
                for c in plan.new
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
    return plan


def _rows(text: str, plan: ImportPlan):
    """(line number, {"phone", "linkedin", "note"}) per non-blank row."""
    reader = csv.reader(text.splitlines())
    columns = None
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if columns is None:
                columns = _header(cells)
                if columns is not None:
                    continue
                columns = {DoNotContactKind.PHONE: 0, "note": 1}
            if plan.rows >= MAX_IMPORT_ROWS:
                raise field_error("file", f"At most {MAX_IMPORT_ROWS} lines per file: split it.")
            yield (
                reader.line_num,
                {
                    name: cells[index] if index < len(cells) else ""
                    for name, index in columns.items()
                },
            )
    except csv.Error as exc:
        raise field_error("file", f"Line {reader.line_num}: not CSV ({exc}).") from exc


def _header(cells: list[str]) -> dict[str, int] | None:
    """The columns a header row names, or None if the row is not a header."""
    names = [cell.lower().replace(" ", "_").replace("-", "_") for cell in cells]
    columns = {
        kind: names.index(name)
        for kind, aliases in COLUMNS.items()
        for name in names
        if name in aliases
    }
    if not columns:
        return None
    if DoNotContactKind.PHONE not in columns and DoNotContactKind.LINKEDIN not in columns:
        raise field_error("file", "The header names no phone or linkedin column.")
    return columns


def _candidates(line: int, cells: dict, plan: ImportPlan, region: str | None) -> list[Candidate]:
    note = cells.get("note", "")
    if len(note) > MAX_NOTE_LENGTH:
        plan.error(line, f"The note is longer than {MAX_NOTE_LENGTH} characters.", "too_long")
        return []
    found = []
    for kind in (DoNotContactKind.PHONE, DoNotContactKind.LINKEDIN):
        raw = cells.get(kind, "")
        if not raw:
            continue
        try:
            value = do_not_contact_normalize(kind=kind, value=raw, default_region=region)
        except (InvalidPhoneNumberError, ValueError) as exc:
            code = "invalid_phone" if kind == DoNotContactKind.PHONE else "invalid_linkedin_id"
            plan.error(line, str(exc), code)
            continue
        found.append(Candidate(line=line, kind=kind, value=value, note=note))
    if not found and line not in plan.errors:
        plan.error(line, "No phone number or LinkedIn id on this line.", "blank")
    return found


def _already_listed(organization: Organization, keys: set[tuple[str, str]]) -> set:
    listed = set()
    for kind in DoNotContactKind.values:
        values = sorted(value for k, value in keys if k == kind)
        for start in range(0, len(values), _LOOKUP_CHUNK):
            listed.update(
                (kind, value)
                for value in DoNotContact.objects.filter(
                    organization=organization,
                    kind=kind,
                    value__in=values[start : start + _LOOKUP_CHUNK],
                ).values_list("value", flat=True)
            )
    return listed
