"""JSONL job postings: the hand-made bad file and the real EMSCAD sample."""

import json

from leadflow.ingest.jobs_jsonl import parse_jobs_jsonl

from .conftest import FIXTURES, IMPORT_DATE, SAMPLES, reasons, split

BAD_JOBS = FIXTURES / "bad_jobs.jsonl"
JOBS_SAMPLE = SAMPLES / "jobs_sample.jsonl"
# Postings labelled is_icp in golden_100.jsonl (marketing / advertising / PR hires).
ICP_JOB_IDS = {"126", "372", "470", "96", "349", "228", "27", "21", "402"}


def _parse(path=BAD_JOBS, **kwargs):
    return split(parse_jobs_jsonl(path, source="test_jobs", import_date=IMPORT_DATE, **kwargs))


def test_every_bad_line_is_quarantined_with_its_reason():
    signals, rejections = _parse(label="bad_jobs.jsonl")
    non_blank_lines = sum(1 for line in BAD_JOBS.read_bytes().splitlines() if line.strip())
    assert len(signals) + len(rejections) == non_blank_lines == 10
    assert [s.position for s in signals] == ["bad_jobs.jsonl#0", "bad_jobs.jsonl#2", "bad_jobs.jsonl#8"]
    assert reasons(rejections) == {
        "bad_jobs.jsonl#1": "bad_json",
        "bad_jobs.jsonl#3": "missing_field",
        "bad_jobs.jsonl#4": "empty_body",
        "bad_jobs.jsonl#5": "oversize",
        "bad_jobs.jsonl#6": "not_object",
        "bad_jobs.jsonl#9": "missing_field",
        "bad_jobs.jsonl#10": "bad_field",
    }
    by_position = {r.position: r for r in rejections}
    assert by_position["bad_jobs.jsonl#3"].reason == "missing_field: title is missing or empty"
    assert by_position["bad_jobs.jsonl#9"].reason == "missing_field: job_id is missing or empty"
    assert by_position["bad_jobs.jsonl#5"].reason == "oversize: 20411 chars > 20000"
    # A latin-1 byte in a line is read through the charset fallback, not quarantined.
    latin1 = signals[1]
    assert (latin1.title, latin1.attributes["charset_repair"]) == (
        "Caf\u00e9 Manager",
        "fallback: declared utf-8, read as windows-1252",
    )
    assert all(len(r.excerpt) <= 200 and r.source == "test_jobs" and r.kind == "job_posting" for r in rejections)


def test_good_posting_fields():
    signals, _ = _parse()
    job = signals[0]
    assert job.kind == "job_posting"
    assert job.external_id == "1001"
    assert job.title == "Marketing Manager"
    assert job.company == ""
    assert job.signal_date == IMPORT_DATE
    assert job.text == (
        "Marketing Manager\n\n"
        "We build B2B billing software for clinics.\n\n"
        "Own our content calendar\n\nRun campaigns & events\n\nApply at [URL]\n\n"
        "3+ years in B2B marketing\n\n"
        "Remote-friendly"
    )
    assert job.attributes == {
        "department": "Marketing",
        "salary_range": None,
        "employment_type": "Full-time",
        "required_education": None,
        "telecommuting": False,
        "has_company_logo": True,
        "has_questions": False,
    }
    assert len(job.signal_id) == 20 and int(job.signal_id, 16) >= 0
    assert len(job.content_hash) == 64


def test_repost_shares_content_hash_but_not_signal_id():
    signals, _ = _parse()
    first, _latin1, repost = signals
    assert first.content_hash == repost.content_hash
    assert first.signal_id != repost.signal_id


def test_oversize_limit_is_configurable_and_never_truncates():
    text_length = min(len(s.text) for s in _parse()[0])
    signals, rejections = _parse(max_chars=text_length - 1)
    assert signals == []
    oversize = [r.reason for r in rejections if r.reason.startswith("oversize")]
    assert f"oversize: {text_length} chars > {text_length - 1}" in oversize
    assert len(oversize) == 4


def test_ids_are_stable_across_reads_and_depend_on_source():
    first, _ = _parse()
    second, _ = _parse()
    other = split(parse_jobs_jsonl(BAD_JOBS, source="other", import_date=IMPORT_DATE))[0]
    assert [s.signal_id for s in first] == [s.signal_id for s in second]
    assert first == second
    assert {s.signal_id for s in first}.isdisjoint(s.signal_id for s in other)


def test_default_position_names_the_file():
    signals, _ = _parse()
    assert signals[0].position == f"{BAD_JOBS}#0"


def test_real_sample_parses_completely():
    signals, rejections = _parse(JOBS_SAMPLE)
    assert (len(signals), len(rejections)) == (60, 0)
    assert {s.external_id for s in signals} >= ICP_JOB_IDS
    assert len({s.signal_id for s in signals}) == 60
    for job in signals:
        assert job.title == job.title.strip() and job.text.startswith(job.title)
        assert "#URL_" not in job.text and "&amp;" not in job.text and "\u00a0" not in job.text
        assert job.signal_date == IMPORT_DATE


def test_real_sample_reposts_dedupe_by_content_hash():
    signals, _ = _parse(JOBS_SAMPLE)
    raw_titles = {json.loads(line)["job_id"]: json.loads(line)["title"] for line in JOBS_SAMPLE.open(encoding="utf-8")}
    teachers = [s for s in signals if s.title == "English Teacher Abroad"]
    # The same EMSCAD posting appears with and without a trailing space in its title.
    assert {raw_titles[s.external_id] for s in teachers} == {"English Teacher Abroad", "English Teacher Abroad "}
    assert len({s.content_hash for s in teachers}) == 2  # two distinct postings, each reposted
    assert len({s.content_hash for s in signals}) == 55


def test_lone_surrogate_escapes_become_replacement_characters(tmp_path):
    jsonl = tmp_path / "surrogates.jsonl"
    jsonl.write_text(
        '{"job_id": "1", "title": "Chef \\ud83c", "description": "Cook \\udce9", "department": "\\ud800"}\n'
    )
    (job,) = _parse(jsonl)[0]
    assert (job.title, job.text, job.attributes["department"]) == (
        "Chef \ufffd",
        "Chef \ufffd\n\nCook \ufffd",
        "\ufffd",
    )


def test_parser_limits_are_bad_json_not_exceptions(tmp_path):
    jsonl = tmp_path / "limits.jsonl"
    good = b'{"job_id": "9", "title": "Chef", "description": "Cook."}'
    jsonl.write_bytes(
        b"[" * 100_000 + b"\n" + b'{"job_id": ' + b"7" * 5000 + b"}\n" + b'{"job_id": NaN}\n' + good + b"\n"
    )
    signals, rejections = _parse(jsonl, label="limits.jsonl")
    assert [s.external_id for s in signals] == ["9"]
    assert [r.reason for r in rejections] == [
        "bad_json: nested too deep to read",
        "bad_json: Exceeds the limit (4300 digits) for integer string conversion",
        "bad_json: NaN is not a JSON value",
    ]
