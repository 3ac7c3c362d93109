from leadflow.scoring.dossier_rules import copied_share, dossier_problems

GOOD = {
    "company_summary": "A small analytics startup selling dashboards to retailers in Europe.",
    "trigger": "They posted their first marketing manager role this week.",
    "icp_fit": "Small B2B software company hiring its first marketer: a direct fit.",
    "decision_makers": ["CEO", "Head of Sales"],
    "suggested_opener": "Congratulations on opening your first marketing role; here is how others ramp up.",
    "risks": ["Budget may be small"],
}
SIGNAL = "We are hiring a marketing manager to own content, SEO and campaigns for our SaaS product."


def test_a_complete_original_dossier_passes():
    assert dossier_problems(GOOD, SIGNAL) == []


def test_missing_sections_and_short_text_are_named():
    problems = dossier_problems({"company_summary": "x"}, SIGNAL)
    assert "missing section trigger" in problems and any("too short" in p for p in problems)


def test_an_echo_of_the_input_is_rejected():
    echo = {key: SIGNAL if isinstance(value, str) else [SIGNAL] for key, value in GOOD.items()}
    assert copied_share(echo, SIGNAL) > 0.6  # runs that span two sections are not in the signal
    assert any("copies the signal" in p for p in dossier_problems(echo, SIGNAL))
