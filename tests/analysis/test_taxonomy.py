"""The stated taxonomy: its types, their Berkeley codes and the rule-decided ones."""

from leadflow.analysis.taxonomy import RULE_TYPES, TRAINED_TYPES, TYPE_BY_KEY, TYPES, labels_from_codes


def test_the_taxonomy_covers_the_issue_types_with_their_berkeley_codes():
    assert [t.key for t in TYPES] == [
        "employment",
        "buying_intent",
        "deal_partnership",
        "scheduling",
        "document_review",
        "newsletter",
        "personal",
        "spam",
    ]
    codes = {t.key: t.codes for t in TRAINED_TYPES}
    assert codes == {
        "employment": {"1.5"},
        "deal_partnership": {"3.9"},
        "scheduling": {"1.4"},
        "document_review": {"1.6"},
        "newsletter": {"2.4", "2.7", "2.10"},
        "personal": {"1.2", "1.3"},
    }
    assert [t.key for t in RULE_TYPES] == ["buying_intent", "spam"]
    assert all(0 < t.rule_strength < 1 and t.cues for t in RULE_TYPES)
    assert all(t.prototypes and t.cues for t in TRAINED_TYPES)


def test_lead_values_rank_leads_above_noise():
    value = {t.key: t.lead_value for t in TYPES}
    assert value["employment"] == value["buying_intent"] == 1.0
    assert value["deal_partnership"] > value["document_review"] > value["newsletter"] > value["spam"] == 0.0
    assert value["personal"] < value["scheduling"]


def test_labels_from_codes():
    assert labels_from_codes({"1.5", "2.2"}) == {
        "employment": True,
        "deal_partnership": False,
        "scheduling": False,
        "document_review": False,
        "newsletter": False,
        "personal": False,
    }
    assert labels_from_codes({"1.3", "2.10"})["personal"] and labels_from_codes({"2.10"})["newsletter"]
    assert TYPE_BY_KEY["spam"].trained is False


def test_cues_match_whole_words_only():
    employment = TYPE_BY_KEY["employment"]
    assert any(c.search("We have a candidate for the analyst position") for c in employment.cues)
    assert not any(c.search("the hirearchy of jobsite candidatesque") for c in employment.cues)
