"""Requests and reply expectations from the sender's own words."""

from leadflow.analysis.requests import MAX_REQUESTS, Request, cheap_requests, ground_model_requests, merge_requests


def test_requests_are_sentences_that_ask():
    text = "Thanks for the resume.\nCould you send me his phone number? We meet at 3.\nPlease let me know by Friday."
    requests = cheap_requests(text)
    assert [r.text for r in requests] == ["Could you send me his phone number?", "Please let me know by Friday."]
    assert all(text[r.start : r.end] == r.text for r in requests)


def test_quoted_text_asks_nothing_of_the_reader():
    text = "Sounds good.\n-----Original Message-----\nFrom: A\nCan you call me?"
    assert cheap_requests(text) == []


def test_requests_of_every_golden_email_are_grounded(golden):
    for mail in golden.mails:
        for r in cheap_requests(mail.text):
            assert mail.text[r.start : r.end] == r.text
        assert len(cheap_requests(mail.text)) <= MAX_REQUESTS


def test_model_requests_not_in_the_email_are_dropped():
    text = "Please review the draft by Monday."
    grounded = ground_model_requests(text, ["review the draft", "sign the contract"])
    assert grounded.dropped == 1 and grounded.requests == [Request("review the draft", 7, 23, "model")]
    merged = merge_requests(cheap_requests(text), grounded.requests)
    assert [r.text for r in merged] == ["Please review the draft by Monday."]
