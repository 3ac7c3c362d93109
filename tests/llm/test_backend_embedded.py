"""The embedded engine's own input handling."""

from leadflow.llm.types import Timeouts


def test_embeddings_truncate_long_non_latin_text_by_tokens(embedded):
    """Greek text is ~3x more word pieces per character than English: a cut by characters let a
    real EMSCAD posting reach ~730 tokens and the engine rejected the batch; cut by tokens."""
    long_greek = "Αναζητούμε έμπειρο στέλεχος μάρκετινγκ για την ανάπτυξη της εταιρείας μας. " * 40  # noqa: RUF001 (Greek on purpose: the test is about non-Latin text)
    response = embedded.embed("all-minilm-l6-v2-q8_0", [long_greek, "short text"], Timeouts())
    assert len(response.vectors) == 2 and len(response.vectors[0]) == 384
    assert response.prompt_tokens <= 2 * 256
