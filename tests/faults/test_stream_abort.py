"""Early-abort streaming against a real llama.cpp server behind the fault front: an answer that
cannot match the schema is stopped at its first wrong piece (the server writes fewer pieces and
the client re-asks at once), a valid streamed answer from the real model is never stopped."""

from tests.faults.conftest import ROLE, ask

# A model answering without a grammar: fenced JSON, 45 pieces of 4 characters at a decode pace.
FENCED = '```json\n{"verdict": "yes", "why": "it helps the team ship software faster and safer"}\n```\n' * 2
PACE_S = 0.02
PIECES = -(-len(FENCED) // 4)


def test_an_invalid_stream_is_stopped_at_once_and_repaired_by_the_real_model(server, make_client):
    client = make_client([server.url], stream_roles=(ROLE,))
    server.inject("bad_json", content=FENCED, pace_s=PACE_S)
    completion = ask(client, "a continuous integration service")
    record = completion.record
    assert record is not None and record.stream_aborted == 1 and record.invalid == 1 and record.repaired
    assert completion.value["verdict"] in ("yes", "no")  # the repair, streamed by the real model
    written = server.stats()["bad_json_pieces"]
    assert written <= 4 < PIECES  # the first piece is not JSON; a write or two lands before the close is seen


def test_without_early_abort_the_whole_invalid_stream_is_read(server, make_client):
    client = make_client([server.url], stream_roles=(ROLE,), stream_abort=False)
    server.inject("bad_json", content=FENCED, pace_s=PACE_S)
    completion = ask(client, "a continuous integration service")
    assert completion.record is not None and completion.record.stream_aborted == 0 and completion.record.repaired
    assert server.stats()["bad_json_pieces"] == PIECES
