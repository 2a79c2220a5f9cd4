"""An OpenAI-compatible endpoint as a person reads its failures: the chat provider
(``llm.openai_like``) and the embedding server (``embed.ServerBackend``) both call one
through the openai client, whose retries (exponential backoff with jitter, honouring
Retry-After) are the only ones. Every failure becomes a ``ModelError`` naming the endpoint
and the setting to fix, with the key masked; callers raise it ``from None`` so the key
cannot ride along in a chained exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.errors import ModelError

_KEY_LIKE = re.compile(r"\b(sk|pk|key)-[A-Za-z0-9_\-*.]{3,}")


def scrub(text: str, secret: str | None) -> str:
    """``text`` with the secret, and anything shaped like an API key, masked."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub(r"\1-***", text)


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and which settings a message should point at."""

    url: str  # without user:password (``settings.safe_url``)
    api: str  # "chat" or "embeddings"
    model: str
    env: str  # the settings group's variables: "ASSISTANT_LLM__"
    model_setting: str  # which of them names the model: "MODEL"
    retries: int
    timeout: float
    secret: str | None = None
    key_fallback: str = ""  # another variable the key is read from, said in the message

    def scrub(self, text: str) -> str:
        return scrub(text, self.secret)

    def error(self, exc: BaseException) -> ModelError:
        """A person-readable error for a failed call, key masked."""
        import openai

        where = f"the {'model' if self.api == 'chat' else 'embedding'} endpoint {self.url}"
        retries = self.retries
        tried = f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else ""
        cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else None
        detail = self.scrub(str(cause or exc)).rstrip(".") or type(exc).__name__
        if isinstance(exc, openai.APITimeoutError):
            msg = (
                f"{where} did not answer within {self.timeout:g}s{tried}. Check the "
                f"server, or raise {self.env}TIMEOUT."
            )
        elif isinstance(exc, openai.APIConnectionError):
            msg = (
                f"cannot connect to {where}{tried}: {detail}. Is the server running? "
                f"Check {self.env}API_BASE."
            )
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            also = f" (or {self.key_fallback})" if self.key_fallback else ""
            msg = (
                f"{where} refused the API key (HTTP {exc.status_code}). Set "
                f"{self.env}API_KEY{also} to a valid key."
            )
        elif isinstance(exc, openai.NotFoundError):
            path = "chat/completions" if self.api == "chat" else "embeddings"
            msg = (
                f"{where} has no model {self.model!r} or no {self.api} API at that URL (HTTP "
                f"404). Check {self.env}{self.model_setting} and {self.env}API_BASE (the "
                f"requests go to API_BASE/{path})."
            )
        elif isinstance(exc, openai.RateLimitError):
            msg = f"{where} is rate limiting us (HTTP 429){tried}. Wait and try again."
        elif isinstance(exc, openai.APIStatusError):
            msg = f"{where} failed with HTTP {exc.status_code}{tried}: {detail}"
        else:
            msg = (
                f"unexpected reply from {where}: {type(exc).__name__}: {detail}. Is it an "
                f"OpenAI-compatible {self.api} endpoint?"
            )
        return ModelError(msg)
