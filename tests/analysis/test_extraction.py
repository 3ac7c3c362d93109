"""The small model's answer, grounded against the email (no model call here: see test_analyze)."""

from leadflow.analysis.extraction import EXTRACT_CHARS, TEMPLATE, ground_answer, variables
from leadflow.llm.prompts import PromptLibrary
from leadflow.paths import PROMPTS_DIR


def test_the_template_is_bounded_and_takes_subject_and_window(sample_mails):
    template = PromptLibrary(PROMPTS_DIR).get(TEMPLATE)
    assert template.role == "prefilter" and template.defaults["max_tokens"] <= 256
    schema = template.output_schema
    assert schema is not None and schema["additionalProperties"] is False
    assert all(p.get("maxItems") or p.get("maxLength") or p["type"] == "boolean" for p in schema["properties"].values())
    long = max(sample_mails.values(), key=lambda m: len(m.text))
    rendered = variables(long)
    assert rendered["email_subject"] == long.subject and len(rendered["email_text"]) <= EXTRACT_CHARS
    assert template.render(rendered)[0]["content"].startswith("You read one business email")


def test_ground_answer_keeps_what_is_in_the_email_and_counts_the_rest(sample_mails):
    mail = sample_mails["employment"]
    word = next(w for w in mail.text.split() if w.istitle() and len(w) > 4).strip(".,:;")
    answer = {
        "organizations": [word, "Initech Holdings"],
        "people": [],
        "products": ["TPS Report Generator"],
        "requests": ["wire the funds to Initech"],
        "reply_expected": True,
        "summary": "Initech wants a reply",
    }
    extraction = ground_answer(mail, answer)
    assert [e.text for e in extraction.entities] == [word]
    assert extraction.dropped == 3 and extraction.requests == [] and extraction.reply_expected
