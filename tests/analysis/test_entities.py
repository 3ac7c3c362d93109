"""Grounded entities: every span points at its own text; model entities not in the email are dropped."""

import pytest

from leadflow.analysis.entities import (
    ENTITY_TYPES,
    Entity,
    cheap_entities,
    date_entities,
    ground_model_entities,
    largest_usd,
    locate,
    merge,
    money_entities,
    people_entities,
    usd_value,
)


def test_cheap_entities_of_every_golden_email_are_grounded(golden):
    total = 0
    for mail in golden.mails:
        for e in cheap_entities(mail.text):
            assert mail.text[e.start : e.end] == e.text and e.type in ENTITY_TYPES
            total += 1
    assert total > 1000  # the archive names plenty of people, amounts and dates


@pytest.mark.parametrize(
    ("text", "found", "usd"),
    [
        ("a $2.5 million deal", "$2.5 million", 2.5e6),
        ("costs $3,976.51 in all", "$3,976.51", 3976.51),
        ("a 300,000 dollars fee", "300,000 dollars", 3e5),
        ("about $6bn of debt", "$6bn", 6e9),
        ("EUR 40 per MWh", "EUR 40", None),
    ],
)
def test_money(text, found, usd):
    [money] = money_entities(text)
    assert money.text == found and text[money.start : money.end] == found
    assert usd_value(money.text) == usd


def test_dates():
    text = "Let's meet Monday, June 4th, 2001 or on 06/05/2001; not in May if we can. Report due 2001-07-01."
    assert [d.text for d in date_entities(text)] == ["Monday, June 4th, 2001", "06/05/2001", "2001-07-01"]


def test_people_with_their_stated_roles():
    text = "Molly,\n\nJohn Smith, Director of Marketing at Acme, asked Professor Frank A. Wolak to call.\n\nThanks,\nVince\nVice President\n"
    people = {(e.text, e.role) for e in people_entities(text)}
    assert people == {
        ("Molly", ""),
        ("John Smith", "Director of Marketing"),
        ("Frank A. Wolak", "Professor"),
        ("Vince", "Vice President"),
    }


def test_locate_exact_then_ignoring_case_and_line_breaks():
    text = "Call Frank A.\nWolak at ACME Corp"
    assert locate(text, "ACME Corp") == (23, 32)
    assert locate(text, "frank a. wolak") == (5, 19)
    assert locate(text, "Globex") is None and locate(text, "a") is None


def test_a_planted_ungrounded_model_entity_is_dropped_and_counted(sample_mails):
    mail = sample_mails["employment"]  # a telephone interview with the candidate Marshall Yan
    answer = {
        "organizations": ["Globex Interplanetary"],  # not in the email
        "people": [{"name": "marshall yan", "role": "Chief Astronaut"}],  # a real name, an invented role
        "products": [],
    }
    grounded = ground_model_entities(mail.text, answer)
    assert grounded.dropped == 2
    [person] = grounded.entities
    assert person.type == "person" and person.source == "model" and person.role == ""
    assert mail.text[person.start : person.end] == person.text == "Marshall Yan"


def test_merge_keeps_one_entity_per_span_and_the_stated_role():
    a = Entity("person", "John Smith", 0, 10)
    b = Entity("person", "John", 0, 4, role="Director", source="model")
    c = Entity("money", "$5", 20, 22)
    merged = merge([b, c, a])
    assert merged == [Entity("person", "John Smith", 0, 10, role="Director"), c]
    assert largest_usd(merged) == 5.0 and largest_usd([a]) is None
