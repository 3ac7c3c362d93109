"""The rep's one-line summary: a model line only when grounded."""

from leadflow.analysis.entities import Entity
from leadflow.analysis.mail import Mail
from leadflow.analysis.summary import MAX_SUMMARY_CHARS, compose_summary, grounded_line

MAIL = Mail("Telephone interview", "Lance will interview Marshall Yan on Tuesday, the 5th at 1:00 pm.")


def test_a_line_naming_what_the_email_does_not_is_not_grounded():
    assert grounded_line("Phone interview with Marshall Yan on the 5th", MAIL)
    assert not grounded_line("Interview with Marshall Yan of Goldman Sachs", MAIL)
    assert not grounded_line("Offer of $90,000 to Marshall Yan", MAIL)
    assert not grounded_line("", MAIL)


def test_summary_uses_the_grounded_model_line_else_the_subject():
    people = [Entity("person", "Marshall Yan", 21, 33)]
    good = compose_summary(MAIL, ["employment", "scheduling"], people, True, "Interview of Marshall Yan on the 5th")
    assert good == "Hiring / employment: Interview of Marshall Yan on the 5th | people: Marshall Yan | reply expected"
    bad = compose_summary(MAIL, ["employment"], people, False, "Goldman Sachs hires Marshall Yan")
    assert bad == 'Hiring / employment: "Telephone interview" | people: Marshall Yan'
    assert compose_summary(Mail("", "x" * 10), [], [], False).startswith("Unclassified: (no subject)")
    many = [Entity("person", f"Person Number{i:03d}", 0, 1) for i in range(40)]
    assert len(compose_summary(MAIL, [], many, True)) <= MAX_SUMMARY_CHARS
