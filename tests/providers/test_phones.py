import pytest

from providers.phones import InvalidPhoneNumberError, to_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (415) 555-0199", "+14155550199"),
        ("16505551234", "+16505551234"),  # Meta sends international numbers without "+"
        ("whatsapp:+4915123456789", "+4915123456789"),  # Twilio's channel prefix
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_numbers_become_e164(raw, expected):
    assert to_e164(raw) == expected


def test_national_number_needs_a_region():
    with pytest.raises(InvalidPhoneNumberError):
        to_e164("(415) 555-0199")
    assert to_e164("(415) 555-0199", default_region="US") == "+14155550199"


@pytest.mark.parametrize("raw", ["", "not a number", "+1 23"])
def test_garbage_is_refused(raw):
    with pytest.raises(InvalidPhoneNumberError):
        to_e164(raw)
