"""The API key goes to the server and nowhere else: not into the client's log lines on HTTP
errors (retries, fallbacks), the error it raises, or the repr of the settings it was built from."""

import logging

import pytest

from leadflow.defs.resources import LLMResource
from leadflow.llm.types import LLMError
from tests.token_server import TokenServer

API_KEY = "sk-leadflow-client-test-5f3a9c"
VARIABLES = {"icp_context": "B2B data teams", "signal_kind": "job_posting", "signal_title": "x", "signal_text": "y"}


def test_http_errors_are_logged_and_raised_without_the_api_key(caplog):
    with TokenServer(API_KEY) as server:
        resource = LLMResource(
            backend="openai", base_urls=server.url, api_key=API_KEY, cache_path="off", max_retries=1, warm_up=False
        )
        client = resource.client()
        with caplog.at_level(logging.DEBUG), pytest.raises(LLMError) as error:
            client.complete_json("prefilter", "classify_signal", VARIABLES)
    assert f"Bearer {API_KEY}" in server.authorizations  # the key was used
    assert "the engine crashed" in caplog.text and "retrying" in caplog.text  # the 500 was logged
    assert API_KEY not in caplog.text
    assert API_KEY not in str(error.value) and API_KEY not in repr(error.value)
    assert API_KEY not in repr(resource.settings()) and API_KEY not in repr(resource)
