"""The API's JSON parser: DRF's, refusing (400) what would only fail deeper down."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from providers.text import unstorable_text


class JSONParser(parsers.JSONParser):
    """Besides malformed JSON, a 400 for:
    - nesting deep enough to exhaust Python's recursion limit (100,000 `[` was a 500);
    - strings PostgreSQL cannot store or the renderer cannot encode when an error
      message echoes them: NUL and lone surrogates (a choice field's "is not a valid
      choice" used to fail as an HTML 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        problem = unstorable_text(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
