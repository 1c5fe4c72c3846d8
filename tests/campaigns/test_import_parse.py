"""Reading a lead file: what each line becomes, and what is wrong with it, by line."""

from campaigns.leads import Needs, leads_from_records, leads_parse, linkedin_normalize


def _parse(text: str, needs: Needs = Needs.PHONE, region: str | None = "US"):
    return leads_parse(data=text.encode(), needs=needs, default_region=region)


def _errors(parsed) -> list[tuple[int, str, str]]:
    return [(e.line, e.field, e.code) for e in parsed.errors]


def test_numbers_are_normalized_and_other_columns_become_fields():
    # given a file with national and international numbers, a name and custom columns
    parsed = _parse(
        "Phone,First Name,Last Name,Company,Favourite Colour\n"
        "(650) 555-1234,Kim,Lee,Acme,blue\n"
        "+33 6 12 34 56 78,Élodie,,Globex,\n"
    )

    # then both are leads, in E.164, with their fields (empty values left out)
    assert parsed.errors == []
    assert [lead.phone for lead in parsed.leads] == ["+16505551234", "+33612345678"]
    assert parsed.leads[0].fields == {
        "first_name": "Kim",
        "last_name": "Lee",
        "name": "Kim Lee",
        "company": "Acme",
        "favourite_colour": "blue",
    }
    assert parsed.leads[1].fields == {"first_name": "Élodie", "name": "Élodie", "company": "Globex"}


def test_a_full_name_gives_a_first_name():
    parsed = _parse("mobile;name\n6505551234;Kim Lee Park\n")  # semicolons, as Excel in Europe
    assert parsed.leads[0].fields == {
        "name": "Kim Lee Park",
        "first_name": "Kim",
        "last_name": "Lee Park",
    }


def test_bad_numbers_and_missing_identifiers_are_reported_by_line():
    # given a file with a typo'd number, a line without a number and a good one
    parsed = _parse("phone,name\n555-12,Bad\n,Nobody\n\n+16505551234,Good\n")

    # then each bad line is named with its field; the blank line is skipped, not counted
    assert _errors(parsed) == [(2, "phone", "invalid_phone"), (3, "phone", "required")]
    assert [lead.line for lead in parsed.leads] == [5]
    assert parsed.rows == 3


def test_without_a_region_only_international_numbers_are_read():
    parsed = _parse("phone\n(650) 555-1234\n16505551234\n", region=None)
    assert _errors(parsed) == [(2, "phone", "invalid_phone")]
    assert "default region" in parsed.errors[0].message
    assert parsed.leads[0].phone == "+16505551234"


def test_duplicates_are_merged_first_values_first():
    # given the same person twice (written two ways) with different columns filled
    parsed = _parse("phone,first_name,company\n+1 650 555 1234,Kim,\n6505551234,Kimberly,Acme\n")

    # then one lead, with the first line's name and the second's company
    (lead,) = parsed.leads
    assert (lead.line, lead.merged_lines) == (2, [3])
    assert lead.fields["first_name"] == "Kim"
    assert lead.fields["company"] == "Acme"
    assert parsed.duplicates == 1


def test_a_file_without_the_identifying_column_is_refused_whole():
    parsed = _parse("name,company\nKim,Acme\n")
    assert _errors(parsed) == [(0, "phone", "missing_column")]
    assert parsed.leads == []


def test_files_that_are_not_csv_text_are_refused():
    assert _errors(leads_parse(data=b"\xff\xfe\x00p", needs=Needs.PHONE)) == [
        (0, "file", "encoding")
    ]
    assert _errors(_parse("")) == [(0, "file", "empty")]
    assert _errors(_parse("phone,Phone\n1,2\n")) == [(0, "Phone", "duplicate")]
    assert _errors(_parse("phone\n+16505551234\n", region="XX")) == [
        (0, "default_region", "invalid")
    ]


def test_a_quoted_value_over_two_lines_keeps_later_line_numbers_right():
    parsed = _parse('phone,note\n+16505551234,"two\nlines"\nnope,x\n')
    assert parsed.leads[0].fields["note"] == "two\nlines"
    assert _errors(parsed) == [(4, "phone", "invalid_phone")]


def test_too_many_values_on_a_line_is_an_error():
    parsed = _parse("phone,name\n+16505551234,Kim,extra\n")
    assert _errors(parsed) == [(2, "file", "shape")]


def test_linkedin_profiles_by_url_slug_or_member_id():
    assert linkedin_normalize("https://www.linkedin.com/in/Kim-Lee-42/?trk=x") == "kim-lee-42"
    assert linkedin_normalize("linkedin.com/in/kim%C3%A9") == "kimé"
    assert linkedin_normalize("ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E") == (
        "ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E"
    )
    assert linkedin_normalize("https://evil.example/linkedin.com/in/x") is None
    assert linkedin_normalize("https://www.linkedin.com/company/acme") is None

    parsed = _parse(
        "LinkedIn URL,name\nhttps://linkedin.com/in/kim-lee,Kim\nlinkedin.com/in/KIM-LEE,K\n"
        "https://linkedin.com/feed,Bad\n",
        needs=Needs.LINKEDIN,
    )
    assert [(lead.linkedin, lead.merged_lines) for lead in parsed.leads] == [("kim-lee", [3])]
    assert _errors(parsed) == [(4, "linkedin", "invalid_linkedin")]


def test_records_follow_the_same_rules_as_lines():
    parsed = leads_from_records(
        records=[{"phone": "+16505551234", "first_name": "Kim"}, {"phone": "12"}, {"name": "x"}],
        needs=Needs.PHONE,
    )
    assert [lead.phone for lead in parsed.leads] == ["+16505551234"]
    assert _errors(parsed) == [(2, "phone", "invalid_phone"), (3, "phone", "required")]
