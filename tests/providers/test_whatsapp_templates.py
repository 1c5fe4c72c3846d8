import copy

import pytest

from providers.whatsapp_templates import (
    TemplateParamsError,
    components_for_send,
    placeholders,
    template_problems,
)

# As Meta lists them (A5): component and button types in UPPER case.
NAMED_COMPONENTS = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW"]}},
    {
        "type": "BODY",
        "text": "Your reservation for {{number_of_guests}} on {{day}} is confirmed. "
        "See you {{day}}!",
    },
    {"type": "FOOTER", "text": "Lucky Shrub Eatery"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Cancel reservation"},
            {"type": "URL", "text": "Change reservation", "url": "https://x.example/r/{{1}}"},
        ],
    },
]

# As they are submitted: lower case, positional, with a text header.
POSITIONAL_COMPONENTS = [
    {"type": "header", "format": "text", "text": "Order {{1}}"},
    {"type": "body", "text": "Hi {{2}}, order {{1}} ships {{3}}."},
]

VALID_NAMED = {
    "name": "reservation_confirmation",
    "language": "en_US",
    "category": "utility",
    "parameter_format": "named",
    "components": [
        {"type": "header", "format": "image", "example": {"header_handle": ["4::aW"]}},
        {
            "type": "body",
            "text": "Your reservation for {{number_of_guests}} on {{day}} is confirmed.",
            "example": {
                "body_text_named_params": [
                    {"param_name": "number_of_guests", "example": "4"},
                    {"param_name": "day", "example": "Saturday"},
                ]
            },
        },
        {"type": "footer", "text": "Lucky Shrub Eatery"},
        {
            "type": "buttons",
            "buttons": [
                {
                    "type": "url",
                    "text": "Change reservation",
                    "url": "https://x.example/r/{{1}}",
                    "example": ["https://x.example/r/abc"],
                },
                {"type": "quick_reply", "text": "Cancel reservation"},
            ],
        },
    ],
}

VALID_POSITIONAL = {
    "name": "order_shipped",
    "language": "en",
    "category": "UTILITY",
    "components": [
        {
            "type": "header",
            "format": "text",
            "text": "Order {{1}}",
            "example": {"header_text": ["42"]},
        },
        {
            "type": "body",
            "text": "Hi {{1}}, your order ships {{2}}.",
            "example": {"body_text": [["Ann", "today"]]},
        },
    ],
}


def _with(payload: dict, **changes) -> dict:
    changed = copy.deepcopy(payload)
    changed.update(changes)
    return changed


def _body_of(payload: dict) -> dict:
    return next(c for c in payload["components"] if c["type"] == "body")


# --- placeholders -----------------------------------------------------------------------


def test_named_placeholders_are_listed_once_in_order_of_appearance():
    # given an approved named template as Meta lists it
    # when its placeholders are read
    required = placeholders(NAMED_COMPONENTS, "NAMED")

    # then the image header, both body names (once each) and the URL suffix are needed;
    # the quick reply and footer need nothing
    assert required == {
        "header": ["IMAGE"],
        "body": ["number_of_guests", "day"],
        "button_1": ["1"],
    }


def test_positional_placeholders_are_listed_in_number_order():
    # given a body that mentions {{2}} before {{1}}
    required = placeholders(POSITIONAL_COMPONENTS, "positional")

    # then a send lists them by number, as Meta matches them by position
    assert required == {"header": ["1"], "body": ["1", "2", "3"]}


def test_copy_code_and_one_time_password_buttons_need_their_code():
    coupon = [{"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]}]
    one_time_password = [{"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]}]

    assert placeholders(coupon, "") == {"button_0": ["COUPON_CODE"]}
    assert placeholders(one_time_password, "") == {"button_0": ["1"]}


def test_a_template_without_placeholders_needs_nothing():
    assert placeholders([{"type": "BODY", "text": "Hello!"}], "POSITIONAL") == {}


# --- components_for_send -------------------------------------------------------------


def test_named_parameters_become_named_components():
    # given what a named template requires and a value for each
    required = placeholders(NAMED_COMPONENTS, "NAMED")
    parameters = {
        "header": {"IMAGE": "https://cdn.example/table.jpg"},
        "body": {"day": "Saturday", "number_of_guests": 4},
        "button_1": ["r-991"],
    }

    # when the send components are built
    components = components_for_send(required, parameters)

    # then header, body and button carry the values the way Meta expects them
    assert components == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://cdn.example/table.jpg"}}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "number_of_guests", "text": "4"},
                {"type": "text", "parameter_name": "day", "text": "Saturday"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": "r-991"}],
        },
    ]


def test_positional_parameters_are_sent_in_order_without_names():
    required = placeholders(POSITIONAL_COMPONENTS, "POSITIONAL")

    components = components_for_send(required, {"header": ["42"], "body": ["42", "Ann", "today"]})

    assert components[1] == {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "42"},
            {"type": "text", "text": "Ann"},
            {"type": "text", "text": "today"},
        ],
    }


def test_a_media_id_and_a_coupon_code_are_sent_as_such():
    required = {"header": ["DOCUMENT"], "button_0": ["COUPON_CODE"]}

    components = components_for_send(required, {"header": ["1013"], "button_0": ["SAVE10"]})

    assert components == [
        {"type": "header", "parameters": [{"type": "document", "document": {"id": "1013"}}]},
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "0",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
        },
    ]


def test_missing_extra_and_empty_parameters_are_all_named():
    # given a template needing number_of_guests and day in its body
    required = {"body": ["number_of_guests", "day"]}

    # when day is missing, a stray name is given, and another part is given values
    with pytest.raises(TemplateParamsError) as raised:
        components_for_send(
            required, {"body": {"number_of_guests": "4", "time": "8pm"}, "footer": ["x"]}
        )

    # then each mistake is reported where it is, and it is a ValueError
    assert isinstance(raised.value, ValueError)
    assert raised.value.problems == {
        "footer": ["this template takes no parameters here"],
        "body": ["missing parameter 'day'", "unexpected parameter 'time'"],
    }
    assert "body: missing parameter 'day'" in str(raised.value)


def test_an_empty_value_is_refused():
    with pytest.raises(TemplateParamsError) as raised:
        components_for_send({"body": ["1", "2"]}, {"body": ["Ann", "  "]})

    assert raised.value.problems == {"body": ["parameter '2' is empty"]}


def test_a_positional_list_of_the_wrong_length_is_refused():
    with pytest.raises(TemplateParamsError) as raised:
        components_for_send({"body": ["1", "2"]}, {"body": ["Ann"]})

    assert raised.value.problems == {"body": ["expects 2 parameter(s) ('1', '2'), got 1"]}


def test_a_part_left_out_is_missing_every_parameter():
    with pytest.raises(TemplateParamsError) as raised:
        components_for_send({"header": ["IMAGE"], "body": ["1"]}, {"body": ["Ann"]})

    assert raised.value.problems == {"header": ["missing parameter 'IMAGE'"]}


# --- template_problems --------------------------------------------------------------


@pytest.mark.parametrize("payload", [VALID_NAMED, VALID_POSITIONAL], ids=["named", "positional"])
def test_a_well_formed_submission_has_no_problems(payload):
    assert template_problems(payload) == {}


def test_an_authentication_template_needs_no_body_text():
    payload = {
        "name": "login_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "body", "add_security_recommendation": True},
            {"type": "buttons", "buttons": [{"type": "otp", "otp_type": "copy_code"}]},
        ],
    }

    assert template_problems(payload) == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Order Ready"}, "name"),
        ({"name": "x" * 513}, "name"),
        ({"category": "promotional"}, "category"),
        ({"language": ""}, "language"),
        ({"parameter_format": "numbered"}, "parameter_format"),
        ({"components": [{"type": "footer", "text": "No body"}]}, "components"),
    ],
)
def test_top_level_mistakes_are_reported_on_their_field(changes, field):
    assert field in template_problems(_with(VALID_NAMED, **changes))


def test_two_bodies_are_refused():
    payload = _with(VALID_POSITIONAL)
    payload["components"].append({"type": "BODY", "text": "Again"})

    assert template_problems(payload)["components"] == ["Needs exactly one BODY, found 2."]


def test_lengths_over_metas_limits_are_reported():
    # given a body, footer and button label each one character too long
    payload = _with(VALID_NAMED)
    _body_of(payload)["text"] = "x" * 1025
    payload["components"][2]["text"] = "f" * 61
    payload["components"][3]["buttons"][1]["text"] = "b" * 26

    # when it is checked
    problems = template_problems(payload)

    # then each says its size and the limit
    assert problems["body"] == ["The body is 1,025 characters; the limit is 1,024."]
    assert problems["footer"] == ["The footer is 61 characters; the limit is 60."]
    assert problems["buttons"] == ["Button 2 label is 26 characters; the limit is 25."]


def test_a_named_placeholder_needs_an_example():
    payload = _with(VALID_NAMED)
    _body_of(payload)["example"]["body_text_named_params"].pop()  # drop "day"

    assert template_problems(payload) == {
        "body": ["{{day}} needs an example (body_text_named_params)."]
    }


def test_positional_placeholders_in_a_named_template_are_refused():
    payload = _with(VALID_NAMED)
    _body_of(payload)["text"] = "Table for {{1}}."

    assert "{{1}} is not a named parameter" in template_problems(payload)["body"][0]


def test_names_in_a_positional_template_are_refused():
    payload = _with(VALID_POSITIONAL)
    _body_of(payload)["text"] = "Hi {{first_name}}."

    assert "set parameter_format to NAMED" in template_problems(payload)["body"][0]


def test_positional_placeholders_must_be_numbered_without_gaps_and_have_examples():
    payload = _with(VALID_POSITIONAL)
    _body_of(payload)["text"] = "Hi {{1}}, order {{3}}, {{4}}."

    assert template_problems(payload)["body"] == [
        "Number the parameters {{1}} to {{3}}.",
        "Each of the 3 parameter(s) needs an example (body_text).",
    ]


def test_a_media_header_needs_a_sample_and_a_url_parameter_an_example():
    payload = _with(VALID_NAMED)
    del payload["components"][0]["example"]
    del payload["components"][3]["buttons"][0]["example"]

    problems = template_problems(payload)

    assert problems["header"] == ["The IMAGE header needs a sample (example.header_handle)."]
    assert problems["buttons"] == ["Button 1 has a URL parameter but no example."]
