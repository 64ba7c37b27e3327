"""The LLM writer: an OpenAI-compatible chat completion (OpenRouter by default) through the openai SDK.

- Structured output: a strict json_schema, and OpenRouter's provider.require_parameters so that providers which
  would ignore the schema are not used; provider.data_collection "deny", so no provider that keeps or trains on
  prompts (they carry a client's first name and buying habits) is used. The answer is validated by our own model;
  one repair attempt if it is not valid, one regeneration if it breaks a guardrail, then the template writer with
  the reason recorded.
- One retry layer, ours (the SDK's is off): 429, 5xx, timeouts, connection errors and a 200 that carries an error
  instead of an answer are retried with exponential backoff and full jitter, honouring Retry-After, and never past
  the deadline the Lambda's remaining time sets. Each call is bounded by wall-clock time, not only per read, so a
  provider that trickles its answer cannot hold the function past its deadline.
  When retries are spent the message is left for SQS to redeliver (TransientFailure); on its last receive the
  template writes it instead, so an outage loses nothing and doubles nothing.
- The key comes from a source that can be asked again: after a 401 it is fetched afresh once (key rotation in SSM
  needs no redeploy). The key is never logged, and key-like strings are removed from provider messages we keep.

This module imports openai; only the email processor imports this module.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from engagement.adapters.secrets import SecretSource
from engagement.errors import TransientFailure, describe, validation_problems
from engagement.observability import logger
from engagement.writer import prompt
from engagement.writer.base import (
    CallToAction,
    EmailContent,
    EmailWriter,
    ModelPrice,
    Usage,
    WriteRequest,
    WrittenEmail,
)
from engagement.writer.guardrails import GuardrailPolicy, Violation, check

RETRYABLE_STATUSES = (402, 408, 409, 429)  # and every 5xx; connection errors and timeouts too (402: see below)
MINIMUM_CALL_SECONDS = 2.0  # a call with less time than this left is not worth starting


class LLMUnavailable(TransientFailure):
    """The provider could not answer in time (after retries): worth trying again later."""


class LLMRefused(Exception):
    """The provider refused the request itself (4xx other than 401/429): retrying cannot help."""


class InvalidOutput(Exception):
    """The model's answer is not an email we can use."""


class _ProviderGlitch(Exception):
    """The provider answered, but not with a completion (an error in a 200, no choices, not JSON): retry it."""


_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_*.-]{6,}")


def scrubbed(message: str) -> str:
    """A provider's message, safe to keep: some echo (part of) the key they were sent."""
    return _KEY_LIKE.sub("[redacted]", message[:1000])[:200]  # redacted before it is cut: no half key is kept


def _said(error: Exception) -> str:
    """What the provider said, without the SDK's wrapping; scrubbed."""
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return scrubbed(body["message"])
    return scrubbed(str(error))


class LLMSettings(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    base_url: str
    model: str
    timeout_s: float
    max_retries: int
    brand_name: str
    shop_url: str
    policy: GuardrailPolicy
    prices: dict[str, ModelPrice]
    temperature: float = 0.7
    max_tokens: int = 700


def _retry_after(error: openai.APIStatusError) -> float | None:
    """Seconds the provider asks us to wait, or None when it does not say (or says nonsense: NaN, negative)."""
    headers = error.response.headers
    seconds: float | None = None
    if milliseconds := headers.get("retry-after-ms"):
        with contextlib.suppress(ValueError):
            seconds = float(milliseconds) / 1000
    if seconds is None and (value := headers.get("retry-after")):
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                return None
            return max(0.0, seconds)  # a date already past means now
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return None
    return seconds  # may be inf: then the deadline check gives up at once


def _glitch(response: Any) -> str | None:
    """Why a 200 is not a completion, if it is not one."""
    if not hasattr(response, "choices"):
        return f"the provider answered with a {type(response).__name__}, not a completion"
    error = getattr(response, "error", None)
    if error:
        message = error.get("message", error) if isinstance(error, dict) else error
        return f"the provider answered with an error: {scrubbed(str(message))}"
    if not response.choices:
        return "the provider answered without choices"
    if response.choices[0].finish_reason == "error":
        return "the provider's model stopped with an error"
    return None


class _CallTimedOut(Exception):
    """A call ran past its wall-clock budget (the SDK's timeout is per read: a trickling answer never trips it)."""


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """call(), or _CallTimedOut once seconds have passed. A late call is abandoned on its daemon thread; its own
    per-read timeout ends it."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller as it is
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="llm-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise _CallTimedOut(f"no complete answer within {seconds:.1f}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class LLMWriter:
    name = "llm"

    def __init__(
        self,
        settings: LLMSettings,
        keys: SecretSource,
        fallback: EmailWriter,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.fallback = fallback
        self._sleep = sleep
        self._monotonic = monotonic
        self._client: openai.OpenAI | None = None
        self._client_key: str | None = None
        self._client_lock = threading.Lock()  # a batch writes its emails on several threads

    def _client_for(self, key: str) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None or key != self._client_key:
                self._client = openai.OpenAI(
                    api_key=key,
                    base_url=self.settings.base_url,
                    max_retries=0,  # one retry layer: ours, bounded by the Lambda's remaining time
                    timeout=self.settings.timeout_s,
                    default_headers={"HTTP-Referer": self.settings.shop_url, "X-Title": self.settings.brand_name},
                )
                self._client_key = key
            return self._client

    # ---- the writer -------------------------------------------------------------------------------------------

    def write(self, request: WriteRequest) -> WrittenEmail:
        key = self.keys.get()
        if key is None:
            return self.fallback.write(request)  # no key configured: the template writer is the default
        ledger: list[Usage] = []  # every call's cost, whatever becomes of its answer
        seen: list[Violation] = []
        system = prompt.system_prompt(self.settings.brand_name, self.settings.policy.allowed_offers)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt.facts_message(request)}]
        try:
            content, picks, answer = self._generate(request, messages, ledger)
            violations = check(content, request, self.settings.policy, picks)
            if violations:
                seen += violations
                logger.warning("guardrails broken; regenerating", extra={"violations": [str(v) for v in violations]})
                feedback = prompt.REGENERATE_MESSAGE.format(violations="; ".join(map(str, violations)))
                retry = [*messages, {"role": "assistant", "content": answer}, {"role": "user", "content": feedback}]
                content, picks, answer = self._generate(request, retry, ledger)
                again = check(content, request, self.settings.policy, picks)
                if again:
                    seen += again
                    return self._fall_back(request, "guardrails: " + "; ".join(map(str, again)), ledger, seen)
        except InvalidOutput as invalid:
            return self._fall_back(request, f"invalid output: {invalid}", ledger, seen)
        except LLMRefused as refused:
            return self._fall_back(request, f"provider refused: {refused}", ledger, seen)
        except LLMUnavailable as unavailable:
            if request.last_attempt:
                return self._fall_back(request, f"provider unavailable: {unavailable}", ledger, seen)
            raise
        return WrittenEmail(
            content=content,
            writer=self.name,
            model=self.settings.model,
            prompt_version=prompt.PROMPT_VERSION,
            usage=sum(ledger, Usage()),
            guardrail_violations=tuple(map(str, seen)),
            product_ids=picks,
        )

    def _fall_back(
        self, request: WriteRequest, reason: str, ledger: list[Usage], violations: list[Violation]
    ) -> WrittenEmail:
        logger.warning("template fallback", extra={"fallbackReason": reason})
        written = self.fallback.write(request)
        return written.model_copy(
            update={
                "fallback_reason": reason[:500],
                "usage": sum(ledger, Usage()),
                "model": self.settings.model,
                "prompt_version": prompt.PROMPT_VERSION,
                "guardrail_violations": tuple(map(str, violations)),
            }
        )

    def _generate(
        self, request: WriteRequest, messages: list[dict[str, str]], ledger: list[Usage]
    ) -> tuple[EmailContent, tuple[str, ...], str]:
        """One answer as an email and its picks; if it cannot be used, one repair attempt."""
        answer = self._complete(request, messages, ledger)
        try:
            return *self._parse(answer), answer
        except InvalidOutput as invalid:
            logger.warning("invalid output; asking for a repair", extra={"problem": str(invalid)})
            repair = [*messages, {"role": "assistant", "content": answer},
                      {"role": "user", "content": prompt.REPAIR_MESSAGE.format(problem=invalid)}]  # fmt: skip
            answer = self._complete(request, repair, ledger)
            return *self._parse(answer), answer

    def _parse(self, answer: str) -> tuple[EmailContent, tuple[str, ...]]:
        try:
            fields = json.loads(answer)
        except (TypeError, ValueError) as exc:
            raise InvalidOutput(f"not JSON ({exc})") from exc
        if not isinstance(fields, dict):
            raise InvalidOutput("not a JSON object")
        picks = fields.get("product_ids", [])
        if not isinstance(picks, list) or not all(isinstance(pick, str) for pick in picks):
            raise InvalidOutput("product_ids: not a list of ids")
        try:
            content = EmailContent(
                subject=fields.get("subject"),
                preheader=fields.get("preheader"),
                greeting=fields.get("greeting"),
                paragraphs=fields.get("paragraphs"),
                call_to_action=CallToAction(label=fields.get("call_to_action_label"), url=self.settings.shop_url),
                sign_off=fields.get("sign_off"),
            )
        except ValidationError as exc:
            raise InvalidOutput(describe(validation_problems(exc))) from exc
        return content, tuple(pick[:100] for pick in picks[:10])

    # ---- one retry layer ------------------------------------------------------------------------------------

    def _complete(self, request: WriteRequest, messages: list[dict[str, str]], ledger: list[Usage]) -> str:
        deadline = request.deadline if request.deadline is not None else self._monotonic() + 60
        attempt, refreshed = 0, False
        key = self.keys.get()
        while True:
            left = deadline - self._monotonic()
            if key is None:
                raise LLMUnavailable("no API key")
            if left < MINIMUM_CALL_SECONDS:
                raise LLMUnavailable("no time left for a call")
            started = self._monotonic()
            budget = min(self.settings.timeout_s, left)
            client = self._client_for(key)
            try:
                response = _within(
                    budget,
                    functools.partial(
                        client.chat.completions.create,
                        model=self.settings.model,
                        messages=messages,
                        response_format=prompt.RESPONSE_FORMAT,
                        temperature=self.settings.temperature,
                        max_tokens=self.settings.max_tokens,
                        extra_body={"provider": {"require_parameters": True, "data_collection": "deny"}},
                        timeout=budget,
                    ),
                )
                if hasattr(response, "usage") and response.usage is not None:
                    ledger.append(self._usage(response, self._monotonic() - started))
                if problem := _glitch(response):
                    raise _ProviderGlitch(problem)
            except openai.AuthenticationError as exc:
                if refreshed:  # not chained: the provider's message may quote the key
                    raise LLMUnavailable(f"the provider rejected the API key ({exc.status_code})") from None
                key, refreshed = self.keys.get(refresh=True), True  # rotated in SSM? fetch it again, once
                continue
            except (openai.APIConnectionError, openai.APIStatusError, _CallTimedOut, _ProviderGlitch,
                    json.JSONDecodeError) as exc:  # fmt: skip
                status = getattr(exc, "status_code", None)
                if status is not None and status not in RETRYABLE_STATUSES and status < 500:
                    raise LLMRefused(f"{status}: {_said(exc)}") from None
                if status == 402 and isinstance(exc, openai.APIStatusError) and _retry_after(exc) is None:
                    # Out of credits, with no hint when that ends: not worth retrying now; SQS redelivers later
                    # and the last receive falls back to the template.
                    raise LLMUnavailable(f"402: {_said(exc)}") from None
                attempt += 1
                wait = self._backoff(attempt, exc)
                logger.warning("LLM call failed; retrying", extra={"attempt": attempt, "status": status, "waitS": wait})
                if attempt > self.settings.max_retries:
                    raise LLMUnavailable(
                        f"{attempt} attempts failed, last: {type(exc).__name__} {status or ''}"
                    ) from exc
                if self._monotonic() + wait + MINIMUM_CALL_SECONDS > deadline:
                    raise LLMUnavailable(f"no time left to retry after {type(exc).__name__}") from exc
                self._sleep(wait)
                continue
            return self._answer(response)

    def _backoff(self, attempt: int, error: Exception) -> float:
        """Retry-After when the provider gives it, else full jitter (and never NaN or negative)."""
        if isinstance(error, openai.APIStatusError):
            retry_after = _retry_after(error)
            if retry_after is not None:
                return retry_after + random.uniform(0, 0.25)  # noqa: S311 - jitter, not cryptography
        return random.uniform(0, min(8.0, 0.5 * 2**attempt))  # noqa: S311 - full jitter

    def _answer(self, response: Any) -> str:
        choice = response.choices[0]
        if getattr(choice.message, "refusal", None):
            raise InvalidOutput(f"the model refused: {choice.message.refusal[:200]}")
        if choice.finish_reason == "length":
            raise InvalidOutput("the answer was cut off at the token limit")
        return str(choice.message.content or "")

    def _usage(self, response: Any, latency: float) -> Usage:
        """What one call cost; counted for every answer, used or not."""
        prompt_tokens = int(getattr(response.usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(response.usage, "completion_tokens", 0) or 0)
        price = self.settings.prices.get(self.settings.model)
        cost = 0.0
        if price is not None:
            cost = (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000
        return Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=round(latency * 1000),
            calls=1,
            estimated_cost_usd=cost,
        )
