"""Object ids typed into URLs and headers.

`str.isdigit()` is true for "²" and "٣", which `int()` then refuses (a 500), and a
20-digit id overflows PostgreSQL's bigint: only ASCII digits within bigint are ids.
"""

import re

_ID = re.compile(r"[0-9]{1,19}")
MAX_ID = 2**63 - 1
# For URL patterns (routers' lookup_value_regex): the same digits, nothing else.
ID_PATTERN = "[0-9]+"


def object_id(text: object) -> int | None:
    """The id `text` names, or None when it names none."""
    if not isinstance(text, str | int) or not _ID.fullmatch(str(text)):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
