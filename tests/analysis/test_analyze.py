"""The whole analysis on real mail, with the real small model for the candidates (slow: ~10 s
per candidate on two cores, so two emails)."""

import json

from leadflow.analysis.analyze import analyze_mails


def test_analysis_of_real_mail_is_grounded_and_exports_the_interface(client, typer, sample_mails):
    mails = [sample_mails["employment"], sample_mails["newsletter"]]
    totals: list[int] = []
    hiring, news = analyze_mails(client, typer, mails, llm_min_priority=30, on_total=totals.append)
    assert totals == [1] and hiring.llm is not None and news.llm is None  # only the candidate went to the model
    assert hiring.record is not None and hiring.record.template == "analyze_email@v1" and news.record is None
    assert hiring.priority >= 30 > news.priority
    for mail, analysis in zip(mails, (hiring, news), strict=True):
        assert all(mail.text[e.start : e.end] == e.text for e in analysis.entities)
        assert all(mail.text[r.start : r.end] == r.text for r in analysis.requests)
        row = analysis.as_row()
        scores = json.loads(row["type_scores"])
        assert "employment" in scores and all(0 <= p <= 1 for p in scores.values())
        assert {"type", "text", "start", "end"} <= {k for e in json.loads(row["entities"]) for k in e}
        assert 0 <= row["priority"] <= 100 and row["summary"]
    assert hiring.types[0] == "employment" and hiring.summary.startswith("Hiring / employment: ")
    row = hiring.as_row()
    assert row["llm_used"] and row["prompt_version"] == "analyze_email@v1" and row["llm_error"] is None
