"""Chat request keys are exact: hashed from the family prefix (backend, model digest, template
content, schema, options) and the variables instead of the rendered prompt, two requests share
a key exactly when the prompts they send are the same. Checked over every prompt the golden
sets produce, and on the boundaries of the incremental encoding.

No inference: keys need the model digests (the verified weights), not a loaded engine.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace

import pytest

from leadflow.analysis.extraction import variables as email_variables
from leadflow.analysis.golden import load_email_golden
from leadflow.defs.resources import PipelineSettings
from leadflow.llm.backends.embedded import EmbeddedBackend
from leadflow.llm.cache_key import cache_key, key_prefix, variables_key
from leadflow.llm.client import LLMClient
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR
from leadflow.scoring.icp import icp_context, load_icp

ROLE = "prefilter"


@pytest.fixture(scope="module")
def client(catalog, model_dir) -> LLMClient:
    backend = EmbeddedBackend(catalog, model_dir, n_parallel=1, threads=1)
    pools = {role: EndpointPool([backend], max_concurrency=1) for role in ("prefilter", "dossier", "embed")}
    return LLMClient(catalog, PromptLibrary(PROMPTS_DIR), pools)


def keyed(client: LLMClient, template_id: str, variables: dict, model: str | None = None):
    """(key, the messages the request sends)."""
    template = client.prompts.get(template_id)
    messages = template.render(variables)
    request = client.build_request(ROLE, template, messages, model or client.model_chain(ROLE)[0])
    return client.request_key(ROLE, template, variables, request), json.dumps(messages, sort_keys=True)


def golden_postings() -> list[dict]:
    """Classification variables of the golden postings, as the prefilter builds them."""
    pipeline = PipelineSettings()
    icp = icp_context(load_icp(pipeline.icp_file()))
    lines = (RESOURCES_DIR / "golden" / "golden_100.jsonl").read_text().splitlines()
    return [
        {
            "icp_context": icp,
            "signal_kind": "job_posting",
            "signal_title": p["title"],
            "signal_text": p["description"][: pipeline.max_text_chars],
        }
        for p in map(json.loads, lines)
    ]


def golden_prompt_variables() -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for base in golden_postings():
        out.append(("classify_signal", base))
        # The same text under another variable, and title and text swapped: a key that did not
        # tie each value to its name would collide here.
        out.append(
            ("classify_signal", {**base, "signal_title": base["signal_text"], "signal_text": base["signal_title"]})
        )
        out.append(("classify_signal", {**base, "signal_kind": "email"}))
    out.extend(("analyze_email", email_variables(mail)) for mail in load_email_golden().mails)
    return out


def test_keys_match_prompts_one_to_one_over_the_golden_sets(client):
    pairs = {keyed(client, template_id, variables) for template_id, variables in golden_prompt_variables()}
    keys = {key for key, _ in pairs}
    prompts = {prompt for _, prompt in pairs}
    # As many keys as distinct prompts, and each key belongs to one prompt: no collision, no
    # prompt under two keys.
    assert len(keys) == len(prompts) == len(pairs)
    assert len(pairs) > 700


def test_a_hit_looks_up_the_key_of_the_request_it_would_send(client):
    """`template_key` (a cache hit's key: no prompt rendered, no request built) is the
    `request_key` of the request a miss sends, for every golden prompt."""
    model = client.model_chain(ROLE)[0]
    for template_id, variables in golden_prompt_variables():
        template = client.prompts.get(template_id)
        request = client.build_request(ROLE, template, template.render(variables), model)
        assert client.template_key(ROLE, template, variables, model) == client.request_key(
            ROLE, template, variables, request
        )


def test_every_component_changes_the_key(client):
    template = client.prompts.get("classify_signal")
    variables = golden_postings()[0]
    model = client.model_chain(ROLE)[0]
    base = client.build_request(ROLE, template, template.render(variables), model)

    def key(request=base, vars_=variables, tmpl=template) -> str:
        return client.request_key(ROLE, tmpl, vars_, request)

    edited = replace(template, content_hash="0" * 64)  # the same id, other file content
    other_schema = {**template.output_schema, "required": ["score"]}
    variants = {
        "base": key(),
        "max_tokens": key(replace(base, max_tokens=base.max_tokens + 1)),
        "temperature": key(replace(base, temperature=0.5)),
        "seed": key(replace(base, seed=base.seed + 1)),
        "stop": key(replace(base, stop=("\n\n",))),
        "schema": key(replace(base, schema=other_schema)),
        "template": key(tmpl=edited),
        "model (and digest)": key(replace(base, model=client.model_chain("embed")[0])),  # an installed one
        **{f"variable {name}": key(vars_={**variables, name: variables[name] + " "}) for name in variables},
    }
    assert len(set(variants.values())) == len(variants), variants
    assert key() == variants["base"]  # the memoized family prefix gives the same key again
    assert key(replace(base, num_ctx=8192)) == key(replace(base, stream=True)) == variants["base"]


def test_the_model_digest_is_in_the_family():
    family = {"backend": "ollama", "model": "m", "model_digest": "sha256:a", "options": {}, "template": "t"}
    variables = {"item": "x"}
    assert variables_key(key_prefix(family), variables) != variables_key(
        key_prefix({**family, "model_digest": "sha256:b"}), variables
    )


def test_the_variable_encoding_has_no_ambiguous_boundaries():
    prefix = key_prefix({"template": "t"})
    sets: list[dict[str, object]] = [
        {"a": "bc"},
        {"a": "b", "c": ""},
        {"ab": "c"},
        {"a": "1:sb"},
        {"a": "1"},
        {"a": 1},
        {"a": ["1"]},
        {"a": None},
        {"a": ""},
        {},
    ]
    assert len({variables_key(prefix, v) for v in sets}) == len(sets)
    # Dict order does not matter, and the same text in another Unicode normal form is the same text.
    assert variables_key(prefix, {"a": "x", "b": "y"}) == variables_key(prefix, {"b": "y", "a": "x"})
    nfd = unicodedata.normalize("NFD", "Café")
    assert variables_key(prefix, {"a": nfd}) == variables_key(prefix, {"a": "Café"})


def test_chat_keys_have_their_own_namespace():
    """Version-1 chat keys hashed the rendered messages with `cache_key`: the new keys never
    coincide with a key of that layout, so old entries are simply not read (they expire)."""
    family = {"backend": "embedded", "model": "m"}
    assert variables_key(key_prefix(family), {}) != cache_key(family)
