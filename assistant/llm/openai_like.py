"""The ``openai`` provider: any OpenAI-compatible chat endpoint, through ``OpenAILike``.

``openai`` and ``llama_index`` are imported only when the provider is created or fails.
"""

from __future__ import annotations

from typing import Any

from assistant.endpoint import Endpoint
from assistant.errors import AssistantError, ModelError
from assistant.llm.base import BaseLLM, Generation, GenParams, Message, Usage
from assistant.llm.registry import register_provider
from assistant.settings import LLMSettings, safe_url


class OpenAILikeLLM(BaseLLM):
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, LM Studio, llama.cpp server)
    through llama-index's ``OpenAILike``.

    Retries happen once, in the openai client: llama-index's own tenacity wrapper, which
    would multiply the client's attempts, is switched off. Failures read as
    ``endpoint.Endpoint.error`` says.
    """

    provider = "openai"

    def __init__(self, settings: LLMSettings) -> None:
        super().__init__(settings)
        if not settings.model:
            raise ModelError(
                "the openai provider needs a model name: set ASSISTANT_LLM__MODEL (e.g. "
                "gpt-4o-mini, or the name your server lists under /v1/models)."
            )
        self.name = settings.model
        self.endpoint = safe_url(settings.api_base)
        self._secret = settings.api_key.get_secret_value() if settings.api_key else None
        self._endpoint = Endpoint(
            self.endpoint,
            "chat",
            settings.model,
            "ASSISTANT_LLM__",
            "MODEL",
            settings.max_retries,
            settings.timeout,
            self._secret,
            key_fallback="OPENAI_API_KEY",
        )
        try:
            self._li = _openai_like(settings, self._secret)
        except Exception as exc:
            raise ModelError(
                f"cannot set up the client for {self.endpoint}: {self._endpoint.scrub(str(exc))}"
            ) from None

    def count_tokens(self, text: str) -> int:
        """An estimate (4 characters a token): hosted models do not share their tokenizer."""
        return max(1, (len(text) + 3) // 4) if text else 0

    def _kwargs(self, params: GenParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
        }
        if params.stop:
            kwargs["stop"] = list(params.stop)
        return kwargs

    @staticmethod
    def _chat_messages(messages: list[Message]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m.role, content=m.content) for m in messages]

    def _complete(self, messages: list[Message], params: GenParams) -> tuple[str, Usage]:
        try:
            response = self._li.chat(self._chat_messages(messages), **self._kwargs(params))
            text = response.message.content
            if not isinstance(text, str):
                raise TypeError(f"the reply has no text content ({text!r})")
            usage = getattr(response.raw, "usage", None)
            choices = getattr(response.raw, "choices", None) or [None]
            finish = getattr(choices[0], "finish_reason", None)
        except AssistantError:
            raise
        except Exception as exc:
            raise self._endpoint.error(exc) from None
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            return text, Usage(usage.prompt_tokens, usage.completion_tokens, finish)
        return text, Usage(finish_reason=finish, estimated=True)

    def _cut_off(self, exc: BaseException | None, received: int) -> ModelError:
        """The error for a stream that ended before the model finished its reply."""
        import httpx
        import openai

        where = f"the model endpoint {self.endpoint}"
        got = f"after {received:,} characters"
        if isinstance(exc, httpx.TimeoutException | openai.APITimeoutError):
            why = f"stopped sending for {self.settings.timeout:g}s {got}"
        elif exc is not None:
            detail = self._endpoint.scrub(str(exc)).rstrip(".") or type(exc).__name__
            why = f"dropped the connection {got} ({detail})"
        else:
            why = f"closed the stream {got} without finishing it (no finish_reason)"
        return ModelError(
            f"{where} {why}: the answer is incomplete. Try again; if it keeps happening, check "
            "the server's log (or raise ASSISTANT_LLM__TIMEOUT if it is just slow)."
        )

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        import httpx

        usage = None
        finish = None
        received = 0
        try:
            for response in self._li.stream_chat(
                self._chat_messages(messages), **self._kwargs(params)
            ):
                raw = response.raw
                usage = getattr(raw, "usage", None) or usage
                choices = getattr(raw, "choices", None) or []
                if choices and getattr(choices[0], "finish_reason", None):
                    finish = choices[0].finish_reason
                if response.delta:
                    received += len(response.delta)
                    yield response.delta
        except AssistantError:
            raise
        except httpx.TransportError as exc:
            # Raised while reading the stream, after the openai client's own error mapping
            # (and retries) are over: the reply was cut, not refused.
            raise self._cut_off(exc, received) from None
        except Exception as exc:
            raise self._endpoint.error(exc) from None
        if finish is None and received:
            # The connection closed cleanly mid-reply (no length, no chunking): every
            # OpenAI-compatible server ends a finished choice with a finish_reason.
            raise self._cut_off(None, received)
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            return Usage(usage.prompt_tokens, usage.completion_tokens, finish)
        return Usage(finish_reason=finish, estimated=True)


def _openai_like(settings: LLMSettings, secret: str | None) -> Any:
    """An ``OpenAILike`` whose retries are done by the openai client alone."""
    from llama_index.llms.openai_like import OpenAILike

    class _ClientRetries(OpenAILike):
        client_retries: int = 0

        def _get_credential_kwargs(self, is_async: bool = False) -> dict[str, Any]:
            kwargs: dict[str, Any] = super()._get_credential_kwargs(is_async)
            kwargs["max_retries"] = self.client_retries
            return kwargs

    return _ClientRetries(
        model=settings.model,
        api_base=settings.api_base,
        # Local servers need no key, but the openai client insists on one.
        api_key=secret or "no-key",
        is_chat_model=True,
        context_window=settings.n_ctx,
        max_tokens=None,  # passed per call; a value here would override the call's
        temperature=settings.temperature,
        timeout=settings.timeout,
        max_retries=0,  # llama-index's tenacity layer off...
        client_retries=settings.max_retries,  # ...the openai client retries instead
    )


@register_provider("openai")
def openai_llm(settings: LLMSettings) -> BaseLLM:
    """The ``openai`` provider's factory (also declared as an entry point)."""
    return OpenAILikeLLM(settings)
