"""Text that PostgreSQL can hold.

PostgreSQL's text and jsonb refuse NUL ("\\u0000"), and UTF-8 cannot encode a lone
surrogate ("\\ud800" with no pair; json.loads joins real pairs into one character), yet
both are valid JSON escapes. A provider's payload with either must still be filed
(`storable`); the API refuses them in its input instead (`unstorable_text`).

Both walk nested lists and dicts without recursion: a payload that parsed is not
necessarily shallow enough for a recursive walk.
"""

import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_str(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _LONE_SURROGATE.sub(REPLACEMENT, text)


def storable(value: Any) -> Any:
    """`value` (parsed JSON) with NUL dropped and lone surrogates replaced, keys too."""
    if isinstance(value, str):
        return storable_str(value)
    if not isinstance(value, dict | list):
        return value
    root = _copy_shell(value)
    pending = [(value, root)]
    while pending:
        source, target = pending.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            clean = _copy_shell(item) if isinstance(item, dict | list) else item
            if isinstance(clean, str):
                clean = storable_str(clean)
            if isinstance(target, dict):
                target[storable_str(key) if isinstance(key, str) else key] = clean
            else:
                target.append(clean)
            if isinstance(item, dict | list):
                pending.append((item, clean))
    return root


def unstorable_text(value: Any) -> str:
    """What in `value` (parsed JSON) PostgreSQL could not store, or "" for nothing."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "text may not contain NUL (\\u0000)."
            if _LONE_SURROGATE.search(item):
                return "text may not contain a lone surrogate (invalid Unicode)."
    return ""


def _copy_shell(value: dict | list) -> dict | list:
    return {} if isinstance(value, dict) else []
