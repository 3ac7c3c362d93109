"""Real parts for the analysis tests: the bundled golden set, the MiniLM embedder and the 0.5B
model on the embedded engine (through a real LLMClient with a tmp cache), and a typer fitted on
the golden set without the sample emails the tests type, so those are held out."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from leadflow.analysis.classifier import EmailTyper, fit_typer
from leadflow.analysis.features import FeatureSpace, email_vectors
from leadflow.analysis.golden import EmailGolden, load_email_golden
from leadflow.analysis.mail import Mail
from leadflow.defs.resources import LLMResource
from leadflow.llm.client import LLMClient

# One real email per trained type (and buying intent), by Message-ID, from the bundled golden set.
SAMPLES = {
    "employment": "<16533450.1075856621388.JavaMail.evans@thyme>",  # telephone interview of a candidate
    "deal_partnership": "<15377587.1075846173597.JavaMail.evans@thyme>",  # a school and company alliance
    "scheduling": "<14109882.1075858884257.JavaMail.evans@thyme>",  # a meeting notice
    "document_review": "<11210820.1075847593612.JavaMail.evans@thyme>",  # a draft response letter
    "newsletter": "<25173785.1075846162870.JavaMail.evans@thyme>",  # a press release and news conference
    "personal": "<12240212.1075846163896.JavaMail.evans@thyme>",  # a thank-you note
    "buying_intent": "<28099839.1075863727683.JavaMail.evans@thyme>",  # a vendor's RFI (no Berkeley label)
}
NEWS_ALERT = "<4899738.1075847624639.JavaMail.evans@thyme>"  # a news alert with an unsubscribe footer


@pytest.fixture(scope="session")
def client(model_dir: Path, shared_llm_cache: Path) -> LLMClient:
    """On the session's shared cache: the golden emails are embedded once for these tests and the
    pipeline's."""
    return LLMResource(model_dir=str(model_dir), cache_path=str(shared_llm_cache), threads=2, warm_up=False).client()


@pytest.fixture(scope="session")
def golden() -> EmailGolden:
    return load_email_golden()


@pytest.fixture(scope="session")
def sample_mails(golden: EmailGolden) -> dict[str, Mail]:
    by_id = dict(zip(golden.message_ids, golden.mails, strict=True))
    return {key: by_id[mid] for key, mid in {**SAMPLES, "news_alert": NEWS_ALERT}.items()}


@pytest.fixture(scope="session")
def golden_features(client: LLMClient, golden: EmailGolden) -> tuple[FeatureSpace, np.ndarray]:
    space = FeatureSpace.build(client)
    return space, space.matrix(golden.mails, email_vectors(client, golden.mails))


@pytest.fixture(scope="session")
def typer(client: LLMClient, golden: EmailGolden) -> EmailTyper:
    """Fitted on the golden set less the sample emails (held out from it)."""
    held_out = {*SAMPLES.values(), NEWS_ALERT}
    keep = [i for i, mid in enumerate(golden.message_ids) if mid not in held_out]
    rest = dataclasses.replace(
        golden,
        mails=tuple(golden.mails[i] for i in keep),
        message_ids=tuple(golden.message_ids[i] for i in keep),
        codes=tuple(golden.codes[i] for i in keep),
    )
    return fit_typer(client, rest)
