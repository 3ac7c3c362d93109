"""Where a role's request goes and what it is sent with: the endpoint pool, the model chain
(primary then fallbacks, overrides first), the model digest that keys the cache, and the
context size."""

import logging
from dataclasses import replace

from leadflow.llm.catalog import Catalog
from leadflow.llm.context_window import choose_num_ctx, estimate_tokens
from leadflow.llm.pool import EndpointPool
from leadflow.llm.types import ChatRequest, LLMError, RetryableError

log = logging.getLogger("leadflow.llm")


class Router:
    def __init__(
        self,
        catalog: Catalog,
        pools: dict[str, EndpointPool],
        *,
        use_quantized: bool,
        model_overrides: tuple[tuple[str, str], ...],
        context_buckets: tuple[int, ...],
    ) -> None:
        self.catalog = catalog
        self.pools = pools
        self.use_quantized = use_quantized
        self.overrides = dict(model_overrides)
        self.context_buckets = context_buckets
        self._digests: dict[tuple[str, str], str] = {}
        self._chains: dict[str, list[str]] = {}

    def pool(self, role: str) -> EndpointPool:
        try:
            return self.pools[role]
        except KeyError as exc:
            raise LLMError(f"no endpoints configured for role {role!r}") from exc

    def model_chain(self, role: str) -> list[str]:
        """The role's model, then its fallbacks, for the role's backend kind (fixed for the
        router's life: worked out once per role, as every request asks for it)."""
        chain = self._chains.get(role)
        if chain is None:
            chain = self.catalog.chain(role, self.pool(role).kind, self.use_quantized)
            override = self.overrides.get(role)
            if override:
                chain = [override, *[m for m in chain[1:] if m != override]]
            self._chains[role] = chain
        return list(chain)

    def model_digest(self, role: str, model: str) -> str:
        """The model's digest from the first endpoint of the pool that answers: one host being
        down must not stop the others from serving (the key is needed before any routing)."""
        backends = self.pool(role).backends
        for backend in backends:
            if (backend.endpoint, model) in self._digests:
                return self._digests[(backend.endpoint, model)]
        error: RetryableError | None = None
        for backend in backends:
            try:
                digest = backend.model_digest(model)
            except RetryableError as exc:
                error = exc
                continue
            self._digests[(backend.endpoint, model)] = digest
            return digest
        assert error is not None  # a pool has at least one backend
        raise error

    def sized(self, role: str, request: ChatRequest) -> ChatRequest:
        """Round the context up to a bucket, reusing the size the model is loaded with if it fits."""
        pool = self.pool(role)
        limit = self.catalog.artifact(request.model).context_length if pool.kind == "embedded" else None
        prompt_tokens = estimate_tokens(request.messages)
        num_ctx = choose_num_ctx(
            prompt_tokens,
            request.max_tokens,
            self.context_buckets,
            loaded=pool.backends[0].loaded_context(request.model),
            model_limit=limit,
        )
        if prompt_tokens + request.max_tokens > num_ctx:
            log.warning(
                "prompt of ~%d tokens + %d to generate exceeds the largest context (%d) for %s: "
                "the server may truncate it",
                prompt_tokens,
                request.max_tokens,
                num_ctx,
                request.model,
            )
        return replace(request, num_ctx=num_ctx)
