"""WhatsApp message templates as data: what a send needs, and what Meta would refuse.

Pure functions over Meta's template JSON (contract A4, A5):

- `placeholders` lists the parameters each part of a template needs, keyed "header",
  "body" and "button_<index>". Text parameters are named by their placeholder ("day"
  for `{{day}}`, "1" for `{{1}}`); a media header needs its format in capitals
  ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION"); a copy-code button needs "COUPON_CODE".
  Capitals cannot clash with a placeholder name, which Meta keeps lower case.
- `components_for_send` turns a plain mapping into the `components` of a template send.
- `template_problems` checks a submission before it costs a round trip and an hourly
  creation slot.

Meta answers component and button types in UPPER case while it is sent lower case, so
types are compared case-insensitively throughout.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

NAMED = "NAMED"
POSITIONAL = "POSITIONAL"
AUTHENTICATION = "AUTHENTICATION"
CATEGORIES = ("MARKETING", "UTILITY", AUTHENTICATION)
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
HEADER_FORMATS = ("TEXT", *MEDIA_FORMATS)
COUPON_CODE = "COUPON_CODE"

BODY_LIMIT = 1024
HEADER_TEXT_LIMIT = 60
FOOTER_LIMIT = 60
BUTTON_LABEL_LIMIT = 25

_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_NAMED_PARAMETER = re.compile(r"[a-z][a-z0-9_]*")
_POSITIONAL_PARAMETER = re.compile(r"[1-9][0-9]*")
# Buttons whose text Meta supplies itself; every other button needs a label.
_LABEL_OPTIONAL = ("OTP", "COPY_CODE")

Problems = dict[str, list[str]]
_Found = defaultdict[str, list[str]]  # problems being collected, by field


class TemplateParamsError(ValueError):
    """The parameters given do not fit the template; `problems` says where."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        summary = "; ".join(f"{key}: {msg}" for key, msgs in problems.items() for msg in msgs)
        super().__init__(f"Template parameters do not match: {summary}")


# --- what a template needs ------------------------------------------------------------


def placeholders(components: list[dict[str, Any]], parameter_format: str) -> dict[str, list[str]]:
    """The parameters each part of the template needs, in the order a send lists them
    (positional by number, named by first appearance). Parts needing none are left out."""
    positional = _format(parameter_format) == POSITIONAL
    required: dict[str, list[str]] = {}
    for component in components:
        for key, names in _REQUIRED_BY_TYPE.get(_type(component), _none)(component):
            if names:
                required[key] = _ordered(names) if positional else names
    return required


def _header_required(component: dict[str, Any]) -> list[tuple[str, list[str]]]:
    header_format = _type(component, "format") or "TEXT"
    if header_format in MEDIA_FORMATS:
        return [("header", [header_format])]
    return [("header", _names(component.get("text")))]


def _body_required(component: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [("body", _names(component.get("text")))]


def _buttons_required(component: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [
        (f"button_{index}", _button_names(button))
        for index, button in enumerate(component.get("buttons") or [])
    ]


def _button_names(button: dict[str, Any]) -> list[str]:
    kind = _type(button)
    if kind == "URL":
        return _names(button.get("url"))
    if kind == "COPY_CODE":
        return [COUPON_CODE]
    if kind == "OTP":
        # Sent as a URL button carrying the code, whatever the OTP type.
        return ["1"]
    return []  # quick replies and phone numbers take nothing at send time


def _none(component: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return []


_REQUIRED_BY_TYPE: dict[str, Callable[[dict[str, Any]], list[tuple[str, list[str]]]]] = {
    "HEADER": _header_required,
    "BODY": _body_required,
    "BUTTONS": _buttons_required,
}


# --- building a send -------------------------------------------------------------------


def components_for_send(
    required: Mapping[str, list[str]], parameters: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The `components` of a template send. `required` is what `placeholders` returned;
    `parameters` gives each part its values by name (`{"body": {"day": "Saturday"}}`)
    or in order (`{"body": ["4", "Saturday"]}`). Media is a link, a media id or the
    media object itself. Raises `TemplateParamsError` (a ValueError) naming every
    missing, extra or empty parameter."""
    problems: Problems = {
        key: ["this template takes no parameters here"] for key in parameters if key not in required
    }
    components = []
    for key, names in required.items():
        values, key_problems = _values(names, parameters.get(key))
        if key_problems:
            problems[key] = key_problems
        else:
            components.append(_component(key, names, values))
    if problems:
        raise TemplateParamsError(problems)
    return components


def _values(names: list[str], given: Any) -> tuple[dict[str, Any], list[str]]:
    if given is None:
        return {}, [f"missing parameter {_quoted(name)}" for name in names]
    if isinstance(given, list | tuple):
        if len(given) != len(names):
            expected = ", ".join(_quoted(name) for name in names)
            return {}, [f"expects {len(names)} parameter(s) ({expected}), got {len(given)}"]
        values = dict(zip(names, given, strict=True))
    elif isinstance(given, Mapping):
        values = {str(name): value for name, value in given.items()}
    else:
        return {}, ["must be a list of values or a mapping of names to values"]
    problems = [f"missing parameter {_quoted(name)}" for name in names if name not in values]
    problems += [f"unexpected parameter {_quoted(name)}" for name in values if name not in names]
    problems += [
        problem
        for name in names
        if name in values and (problem := _value_problem(name, values[name]))
    ]
    return values, problems


def _value_problem(name: str, value: Any) -> str:
    if name in MEDIA_FORMATS:
        if name == "LOCATION" and not isinstance(value, Mapping):
            return "the LOCATION header needs an object (latitude, longitude, name, address)"
        if isinstance(value, Mapping) and value:
            return ""
        if isinstance(value, str) and value.strip():
            return ""
        return f"the {name} header needs a link, a media id or a media object"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"parameter {_quoted(name)} must be text"
    if not str(value).strip():
        return f"parameter {_quoted(name)} is empty"
    return ""


def _component(key: str, names: list[str], values: dict[str, Any]) -> dict[str, Any]:
    if key == "header" and names[0] in MEDIA_FORMATS:
        return {"type": "header", "parameters": [_media(names[0], values[names[0]])]}
    if key in ("header", "body"):
        return {"type": key, "parameters": [_text(name, values[name]) for name in names]}
    index = key.removeprefix("button_")
    if names == [COUPON_CODE]:
        coupon = {"type": "coupon_code", "coupon_code": str(values[COUPON_CODE])}
        return {"type": "button", "sub_type": "copy_code", "index": index, "parameters": [coupon]}
    # URL (and OTP) button variables are always positional, even in named templates.
    parameters = [{"type": "text", "text": str(values[name])} for name in names]
    return {"type": "button", "sub_type": "url", "index": index, "parameters": parameters}


def _text(name: str, value: Any) -> dict[str, Any]:
    parameter = {"type": "text", "text": str(value)}
    if not name.isdigit():
        parameter["parameter_name"] = name
    return parameter


def _media(media_format: str, value: Any) -> dict[str, Any]:
    kind = media_format.lower()
    if isinstance(value, Mapping):
        media = dict(value)
    elif value.strip().startswith(("https://", "http://")):
        media = {"link": value.strip()}
    else:
        media = {"id": value.strip()}
    return {"type": kind, kind: media}


# --- checking a submission ---------------------------------------------------------------


def template_problems(payload: dict[str, Any]) -> Problems:
    """What Meta would refuse in this template submission, by field. Empty: valid."""
    problems: _Found = defaultdict(list)
    name = payload.get("name")
    if not isinstance(name, str) or not _TEMPLATE_NAME.fullmatch(name):
        problems["name"].append("Use 1 to 512 lowercase letters, digits and underscores.")
    category = str(payload.get("category") or "").upper()
    if category not in CATEGORIES:
        problems["category"].append(f"Must be one of {', '.join(CATEGORIES)}.")
    language = payload.get("language")
    if not isinstance(language, str) or not language.strip():
        problems["language"].append("A language is required (e.g. en_US).")
    parameter_format = _format(payload.get("parameter_format"))
    if parameter_format not in (NAMED, POSITIONAL):
        problems["parameter_format"].append(f"Must be {NAMED} or {POSITIONAL}.")
    _check_components(payload.get("components"), parameter_format, category, problems)
    return {field: messages for field, messages in problems.items() if messages}


def _check_components(
    components: Any, parameter_format: str, category: str, problems: _Found
) -> None:
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        problems["components"].append("Must be a list of components.")
        return
    types = [_type(component) for component in components]
    if types.count("BODY") != 1:
        problems["components"].append(f"Needs exactly one BODY, found {types.count('BODY')}.")
    for kind in ("HEADER", "FOOTER", "BUTTONS"):
        if types.count(kind) > 1:
            problems["components"].append(f"At most one {kind}, found {types.count(kind)}.")
    for component in components:
        check = _CHECKS_BY_TYPE.get(_type(component))
        if check:
            check(component, parameter_format, category, problems)


def _check_header(component: dict, parameter_format: str, category: str, problems: _Found) -> None:
    header_format = _type(component, "format") or "TEXT"
    if header_format not in HEADER_FORMATS:
        problems["header"].append(f"Format must be one of {', '.join(HEADER_FORMATS)}.")
    elif header_format == "TEXT":
        text = _text_of(component)
        if not text.strip():
            problems["header"].append("A TEXT header needs text.")
        _check_length("header", text, HEADER_TEXT_LIMIT, problems)
        if len(_names(text)) > 1:
            problems["header"].append("A header takes at most one parameter.")
        _check_placeholders("header", component, parameter_format, problems)
    elif header_format != "LOCATION" and not _example(component).get("header_handle"):
        problems["header"].append(
            f"The {header_format} header needs a sample (example.header_handle)."
        )


def _check_body(component: dict, parameter_format: str, category: str, problems: _Found) -> None:
    text = _text_of(component)
    # Meta writes the body of an authentication template itself.
    if not text.strip() and category != AUTHENTICATION:
        problems["body"].append("The body needs text.")
    _check_length("body", text, BODY_LIMIT, problems)
    _check_placeholders("body", component, parameter_format, problems)


def _check_footer(component: dict, parameter_format: str, category: str, problems: _Found) -> None:
    text = _text_of(component)
    _check_length("footer", text, FOOTER_LIMIT, problems)
    if _names(text):
        problems["footer"].append("A footer cannot have parameters.")


def _check_buttons(component: dict, parameter_format: str, category: str, problems: _Found) -> None:
    buttons = component.get("buttons")
    if (
        not isinstance(buttons, list)
        or not buttons
        or not all(isinstance(b, dict) for b in buttons)
    ):
        problems["buttons"].append("BUTTONS needs a list of buttons.")
        return
    for number, button in enumerate(buttons, start=1):
        label = str(button.get("text") or "")
        if not label.strip() and _type(button) not in _LABEL_OPTIONAL:
            problems["buttons"].append(f"Button {number} needs a label.")
        if len(label) > BUTTON_LABEL_LIMIT:
            problems["buttons"].append(
                f"Button {number} label is {len(label)} characters; "
                f"the limit is {BUTTON_LABEL_LIMIT}."
            )
        if _type(button) == "URL" and _names(button.get("url")) and not button.get("example"):
            problems["buttons"].append(f"Button {number} has a URL parameter but no example.")


_CHECKS_BY_TYPE = {
    "HEADER": _check_header,
    "BODY": _check_body,
    "FOOTER": _check_footer,
    "BUTTONS": _check_buttons,
}


def _check_length(field: str, text: str, limit: int, problems: _Found) -> None:
    if len(text) > limit:
        problems[field].append(f"The {field} is {len(text):,} characters; the limit is {limit:,}.")


def _check_placeholders(
    field: str, component: dict, parameter_format: str, problems: _Found
) -> None:
    """Placeholders written the way `parameter_format` says, each with an example.
    Meta's example keys are `<field>_text_named_params` or `<field>_text`."""
    names = _names(component.get("text"))
    if not names:
        return
    example = _example(component)
    if parameter_format == NAMED:
        problems[field] += [
            f"{{{{{name}}}}} is not a named parameter (lowercase letters, digits and "
            "underscores, starting with a letter)."
            for name in names
            if not _NAMED_PARAMETER.fullmatch(name)
        ]
        samples = {
            sample.get("param_name"): sample.get("example")
            for sample in example.get(f"{field}_text_named_params") or []
            if isinstance(sample, dict)
        }
        problems[field] += [
            f"{{{{{name}}}}} needs an example ({field}_text_named_params)."
            for name in names
            if not str(samples.get(name) or "").strip()
        ]
        return
    if not all(_POSITIONAL_PARAMETER.fullmatch(name) for name in names):
        problems[field].append(
            "Positional parameters are numbers ({{1}}, {{2}}, ...); "
            "set parameter_format to NAMED to use names."
        )
        return
    if sorted(int(name) for name in names) != list(range(1, len(names) + 1)):
        problems[field].append(f"Number the parameters {{{{1}}}} to {{{{{len(names)}}}}}.")
    samples = example.get(f"{field}_text")
    if field == "body" and isinstance(samples, list) and samples:
        samples = samples[0]  # the body's samples are one list inside another
    samples = samples if isinstance(samples, list) else []
    if len(samples) < len(names) or not all(str(sample).strip() for sample in samples):
        problems[field].append(
            f"Each of the {len(names)} parameter(s) needs an example ({field}_text)."
        )


# --- small helpers --------------------------------------------------------------------


def _type(item: dict[str, Any], key: str = "type") -> str:
    return str(item.get(key) or "").upper()


def _text_of(component: dict[str, Any]) -> str:
    text = component.get("text")
    return text if isinstance(text, str) else ""


def _example(component: dict[str, Any]) -> dict[str, Any]:
    example = component.get("example")
    return example if isinstance(example, dict) else {}


def _format(parameter_format: Any) -> str:
    # Meta's default when a template does not say.
    return str(parameter_format or POSITIONAL).upper()


def _names(text: Any) -> list[str]:
    """Placeholder names in order of first appearance, each once."""
    if not isinstance(text, str):
        return []
    return list(dict.fromkeys(name.strip() for name in _PLACEHOLDER.findall(text)))


def _ordered(names: list[str]) -> list[str]:
    """Positional parameters go out in number order, whatever order the text uses."""
    return sorted(names, key=lambda name: (not name.isdigit(), int(name) if name.isdigit() else 0))


def _quoted(name: str) -> str:
    return f"'{name}'"
