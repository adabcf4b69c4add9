"""run_batch: many chat requests through one OpenAI-compatible endpoint, concurrently, cached, crash-safe.

For each request the item walks a short chain of calls (one, plus bounded re-asks when a JSON reply
fails its schema). Each call is first looked up in the SQLite cache; a miss goes over HTTP with an
in-flight limit that AIMD lowers when 429s keep coming, retried by tenacity (exponential backoff with
full jitter; Retry-After honoured), and its answer is committed to the cache the moment it arrives.
Every item ends as a result or a ledgered failure with its reason; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from golong_data.errors import ConfigError, GolongError
from golong_data.llm import ledger, local_server
from golong_data.llm.cache import (
    CachedResponse,
    LLMCache,
    canonical_json,
    default_cache_path,
    golong_home,
    normalise_request,
    request_key,
    request_key_of,
)
from golong_data.llm.contract import LOCAL_MODEL, LLMConfig, LLMRequest, LLMResult
from golong_data.llm.schema import parse_reply, reask_message, schema_dict
from golong_data.progress import progress

OPENAI_URL = "https://api.openai.com/v1"


class BudgetExceeded(GolongError):
    """--max-cost reached: the calls in flight landed in the cache, nothing else was sent."""


# ---------------------------------------------------------------- endpoint resolution
@dataclass
class Endpoint:
    base_url: str | None  # None: the local server, started on the first cache miss
    model: str
    api_key: str  # held in memory only; never logged or stored
    local: bool
    schema_mode: str  # json_schema | json_object


def resolve_endpoint(cfg: LLMConfig, env: dict[str, str] | None = None) -> Endpoint:
    """Explicit config/flags, then $OPENAI_BASE_URL / $<api_key_env>, then the embedded local server."""
    env = dict(os.environ) if env is None else env
    key = env.get(cfg.api_key_env, "")
    base = cfg.base_url or env.get("OPENAI_BASE_URL") or (OPENAI_URL if key else None)
    if base is None:
        if cfg.model and cfg.model != LOCAL_MODEL:
            raise ConfigError(f"model {cfg.model!r} was given but no endpoint serves it",
                              f"pass --base-url (or set OPENAI_BASE_URL), or drop --model to use {LOCAL_MODEL}")
        return Endpoint(None, LOCAL_MODEL, "local", True, _schema_mode(cfg, LOCAL_MODEL, True))
    model = cfg.model or env.get("OPENAI_MODEL")
    if not model:
        raise ConfigError(f"no model named for the endpoint {base}", "pass --model (or set OPENAI_MODEL)")
    return Endpoint(base.rstrip("/"), model, key or "unused", False, _schema_mode(cfg, model, False))


def _schema_mode(cfg: LLMConfig, model: str, local: bool) -> str:
    if cfg.schema_mode in ("json_schema", "json_object"):
        return cfg.schema_mode
    if cfg.schema_mode != "auto":
        raise ConfigError(f"schema_mode {cfg.schema_mode!r} is not known",
                          "expected one of: auto, json_schema, json_object")
    # llama-cpp-python only understands {"type": "json_object", "schema": ...}; everyone else the OpenAI shape.
    return "json_object" if local or model == LOCAL_MODEL else "json_schema"


# ---------------------------------------------------------------- failures
class Transient(Exception):
    """Worth retrying: 429, 5xx, timeouts, dropped connections, unreadable bodies."""

    def __init__(self, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.retry_after = reason, detail, retry_after


class ItemFailure(Exception):
    """This item cannot succeed (retries exhausted, bad request): it ends as a ledgered failure."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class _BudgetStop(Exception):
    pass


_KEYLIKE = re.compile(r"(sk-|Bearer\s+)[A-Za-z0-9_\-*.]{4,}")


def scrub(text: str, api_key: str) -> str:
    """Remove the key (and key-shaped strings: servers echo masked keys in 401 bodies) before storing text."""
    if api_key and len(api_key) >= 6:
        text = text.replace(api_key, "***")
    return _KEYLIKE.sub(r"\1***", text)


def retry_after_s(headers: Any) -> float | None:
    """Seconds from retry-after-ms, or Retry-After as seconds (float accepted) or an HTTP date."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        with contextlib.suppress(ValueError):
            return max(0.0, float(ms) / 1000)
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    with contextlib.suppress(TypeError, ValueError):
        dt = email.utils.parsedate_to_datetime(ra)
        return max(0.0, dt.timestamp() - time.time())
    return None


# ---------------------------------------------------------------- AIMD in-flight limit
class AimdLimiter:
    """At most `limit` requests in flight; `limit` halves on a 429 and grows by one per window of successes.

    Two rules against over-reacting (a storm of 429s is one signal, not fifty): as in TCP, a 429 cuts only
    if its request was sent after the last cut; and cuts are at least `cooldown` apart, the server's
    Retry-After when it gave one, since every 429 inside that window reports the same overload.
    """

    def __init__(self, max_limit: int) -> None:
        self.max = max(1, max_limit)
        self.limit = float(self.max)
        self.in_flight = 0
        self.min_limit = self.limit
        self.cuts = 0
        self._last_cut = -1.0
        self._cond = asyncio.Condition()

    def _room(self) -> int:
        return max(1, int(self.limit)) - self.in_flight

    async def acquire(self) -> float:
        async with self._cond:
            await self._cond.wait_for(lambda: self._room() > 0)
            self.in_flight += 1
        return time.monotonic()

    async def release(self) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify(max(0, self._room()))

    def on_success(self) -> None:
        self.limit = min(float(self.max), self.limit + 1.0 / self.limit)

    def on_rate_limited(self, sent_at: float, cooldown: float | None = None) -> None:
        now = time.monotonic()
        if sent_at >= self._last_cut and now - self._last_cut >= max(cooldown or 0.0, 0.05):
            self.limit = max(1.0, self.limit / 2)
            self._last_cut = now
            self.cuts += 1
            self.min_limit = min(self.min_limit, self.limit)


# ---------------------------------------------------------------- one item: a chain of calls (pure logic)
@dataclass
class _Outcome:
    ok: bool
    text: str | None
    parsed: Any
    error: str | None
    detail: str


ItemSteps = Generator[dict[str, Any], CachedResponse, _Outcome]


def item_steps(req: LLMRequest, model: str, max_reasks: int) -> ItemSteps:
    """Yield each call's normalised request, receive its response, return the item's outcome.

    Pure: the same chain drives cache replay and live calls, so a replay takes exactly the path the
    live run took (re-asks included) without any HTTP.
    """
    schema = schema_dict(req.json_schema)
    model_cls = req.json_schema if schema is not None and not isinstance(req.json_schema, dict) else None
    messages = list(req.messages)
    err = ""
    for _ in range(max_reasks + 1):
        resp = yield normalise_request(model, messages, req.temperature, req.max_tokens, req.seed, schema)
        if resp.finish_reason == "length":
            return _Outcome(False, resp.text, None, "length", f"hit max_tokens={req.max_tokens}: {resp.text[-300:]}")
        if resp.finish_reason not in ("stop", "", None):
            return _Outcome(False, resp.text, None, str(resp.finish_reason), resp.text[-300:])
        if schema is None:
            return _Outcome(True, resp.text, None, None, "")
        parsed, err = parse_reply(resp.text, schema, model_cls)
        if err is None:
            return _Outcome(True, resp.text, parsed, None, "")
        messages = [*messages, {"role": "assistant", "content": resp.text}, reask_message(err, schema)]
    return _Outcome(False, resp.text, None, "schema_invalid", f"{err}; last reply: {resp.text[:1000]}")


# ---------------------------------------------------------------- the batch
@dataclass
class BatchStats:
    """What the engine saw (tests and the bench read it): the AIMD trace and the retry counts."""

    min_limit: float = 0.0
    cuts: int = 0
    retries: int = 0
    http_calls: int = 0
    reasons_retried: dict[str, int] | None = None


class _Batch:
    def __init__(self, cfg: LLMConfig, ep: Endpoint, cache: LLMCache, price: dict[str, float] | None,
                 stage: str, run_id: str, log: Callable[[str], None]) -> None:
        self.cfg, self.ep, self.cache, self.price = cfg, ep, cache, price
        self.stage, self.run_id, self.log = stage, run_id, log
        self.tally = ledger.RunTally()
        self.budget = ledger.Budget(cfg.max_cost)
        self.stats = BatchStats(reasons_retried={})
        self.stopped = False  # the budget ran out: dispatch nothing new
        self._futures: dict[str, asyncio.Future[CachedResponse]] = {}
        self.bar: Any = None

    # -------------------------------------------------- replay (sync, no HTTP)
    def replay(self, req: LLMRequest) -> tuple[LLMResult, str] | None:
        steps = item_steps(req, self.ep.model, self.cfg.max_reasks)
        used: list[CachedResponse] = []
        try:
            norm = next(steps)
            while True:
                key = request_key(norm)
                hit = self.cache.get(key)
                if hit is None:
                    return None
                used.append(hit)
                norm = steps.send(hit)
        except StopIteration as stop:
            return self._result(req, stop.value, used, cached=True), key

    def _result(self, req: LLMRequest, out: _Outcome, used: list[CachedResponse], cached: bool) -> LLMResult:
        pt = sum(r.prompt_tokens for r in used)
        ct = sum(r.completion_tokens for r in used)
        usage = {"prompt_tokens": pt, "completion_tokens": ct, "calls": len(used),
                 "cost": ledger.cost_of(self.price, pt, ct)}
        return LLMResult(req.key, out.ok, out.text, out.parsed, out.error, usage, cached, out.detail)

    # -------------------------------------------------- live
    async def run_item(self, req: LLMRequest) -> tuple[LLMResult, str] | None:
        """The item's result and its last request key; None when the budget stopped it before the end."""
        steps = item_steps(req, self.ep.model, self.cfg.max_reasks)
        used: list[CachedResponse] = []
        all_cached = True
        norm = next(steps)
        # The request's canonical JSON and key are computed once per step: for a 64K-token prompt each
        # serialisation + hash is ~1 ms, and the key is needed for the lookup, the cache row and the ledger.
        body = canonical_json(norm)
        key = request_key_of(body)
        try:
            while True:
                resp, cached = await self.fetch(norm, body, key, req.task_type)
                all_cached &= cached
                used.append(resp)
                norm = steps.send(resp)
                body = canonical_json(norm)
                key = request_key_of(body)
        except StopIteration as stop:
            return self._result(req, stop.value, used, all_cached), key
        except ItemFailure as f:
            out = _Outcome(False, None, None, f.reason, scrub(f.detail, self.ep.api_key))
            return self._result(req, out, used, False), key
        except _BudgetStop:
            return None

    async def fetch(self, norm: dict[str, Any], body: str, key: str,
                    task_type: str | None) -> tuple[CachedResponse, bool]:
        """The answer to one request (`body`, `key`: its canonical JSON and cache key): cached, in flight in
        this batch, or sent."""
        hit = self.cache.get(key)
        if hit is not None:
            return hit, True
        fut = self._futures.get(key)
        if fut is not None:  # the same request is (or was) already being answered in this batch: not paid twice
            return await asyncio.shield(fut), True
        if self.stopped:
            raise _BudgetStop
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # mark retrieved: no "never retrieved"
        self._futures[key] = fut
        try:
            resp = await self._call_with_retries(norm, body, key, task_type)
        except BaseException as e:
            if isinstance(e, _BudgetStop):
                del self._futures[key]  # not an answer: a later identical request may still try
            if isinstance(e, Exception):
                fut.set_exception(e)
            else:
                fut.cancel()
            raise
        fut.set_result(resp)
        return resp, False

    def _backoff(self, exc: Transient, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1, 2, ...)."""
        cfg = self.cfg
        self.stats.retries += 1
        self.stats.reasons_retried[exc.reason] = self.stats.reasons_retried.get(exc.reason, 0) + 1
        if exc.retry_after is not None:
            # Honour the server's wait; a little jitter so a 429 storm's retries do not land together.
            return exc.retry_after * random.uniform(1.0, 1.2)
        # Full jitter (AWS architecture blog): uniform(0, min(cap, base * 2^n)).
        return random.uniform(0, min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** (attempt - 1)))

    async def _call_with_retries(self, norm: dict[str, Any], body: str, key: str,
                                 task_type: str | None) -> CachedResponse:
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt  # lazy: live calls only

        cfg = self.cfg
        reserve = ledger.cost_of(self.price, ledger.estimate_prompt_tokens(norm["messages"]), norm["max_tokens"])
        try:
            try:  # the first attempt outside tenacity: a call that succeeds (nearly all) pays no retry machinery
                resp, cost, duration_ms = await self._attempt(norm, reserve)
            except Transient as first:
                if cfg.max_retries < 1:
                    raise
                await asyncio.sleep(self._backoff(first, 1))
                async for attempt in AsyncRetrying(
                        stop=stop_after_attempt(cfg.max_retries), retry=retry_if_exception_type(Transient),
                        wait=lambda rs: self._backoff(rs.outcome.exception(), rs.attempt_number + 1), reraise=True):
                    with attempt:
                        resp, cost, duration_ms = await self._attempt(norm, reserve)
        except Transient as e:
            raise ItemFailure(e.reason, f"{e.detail} (gave up after {cfg.max_retries + 1} attempts)") from None
        # Committed before anyone sees it: kill -9 after this line loses nothing.
        self.cache.put(key, norm, resp, cost=cost, run_id=self.run_id, stage=self.stage, task_type=task_type,
                       duration_ms=duration_ms, request_json=body)
        t = self.tally
        t.calls += 1
        t.prompt_tokens += resp.prompt_tokens
        t.completion_tokens += resp.completion_tokens
        t.spent += cost
        return resp

    async def _attempt(self, norm: dict[str, Any], reserve: float) -> tuple[CachedResponse, float, int]:
        """One HTTP call inside the in-flight limit and the budget: (response, cost, duration in ms)."""
        sent_at = await self.limiter.acquire()
        reserved, cost = False, 0.0
        try:
            if self.stopped or not self.budget.try_reserve(reserve):
                self.stopped = True
                raise _BudgetStop
            reserved = True
            t0 = time.monotonic()
            self.stats.http_calls += 1
            resp = await self._http(norm, sent_at)
            cost = ledger.cost_of(self.price, resp.prompt_tokens, resp.completion_tokens)
            return resp, cost, int((time.monotonic() - t0) * 1000)
        finally:
            if reserved:  # swap the reservation for the real cost in one step: no window to overshoot
                self.budget.settle(reserve, cost)
            await self.limiter.release()

    async def _http(self, norm: dict[str, Any], sent_at: float) -> CachedResponse:
        import openai  # lazy: openai takes 0.5 s to import; only live calls need it
        from openai.types.chat import ChatCompletion

        kwargs: dict[str, Any] = {
            "model": norm["model"],
            "messages": norm["messages"],
            "temperature": norm["temperature"],
            "max_tokens": norm["max_tokens"],
            "seed": norm["seed"],
        }
        schema = norm["json_schema"]
        if schema is not None:
            if self.ep.schema_mode == "json_object":
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            else:
                kwargs["response_format"] = {"type": "json_schema",
                                             "json_schema": {"name": "reply", "schema": schema}}
        try:
            # client.post with a plain JSON body, not chat.completions.create: the body is already plain JSON,
            # and create()'s TypedDict transform costs more CPU per call than everything else here together.
            resp = await self.client.post("/chat/completions", body=kwargs, cast_to=ChatCompletion)
        except openai.RateLimitError as e:
            wait_s = retry_after_s(e.response.headers)
            self.limiter.on_rate_limited(sent_at, wait_s)
            raise Transient("rate_limited", _status_detail(e), wait_s) from None
        except openai.APITimeoutError:
            raise Transient("timeout", f"no answer within {self.cfg.timeout_s}s") from None
        except openai.APIConnectionError as e:
            raise Transient("connection_error", str(e)) from None
        except openai.APIResponseValidationError as e:
            raise Transient("malformed_response", str(e)[:300]) from None
        except openai.APIStatusError as e:
            status = e.status_code
            if status >= 500 or status in (408, 409, 425):
                raise Transient("server_error", _status_detail(e), retry_after_s(e.response.headers)) from None
            if status in (401, 403):
                raise GolongError(f"the endpoint {self.ep.base_url} refused the API key (HTTP {status})",
                                  f"set ${self.cfg.api_key_env} to a valid key, or --api-key-env") from None
            if status == 404:
                raise GolongError(f"the endpoint {self.ep.base_url} has no model {norm['model']!r} (HTTP 404)",
                                  "check --base-url and --model") from None
            raise ItemFailure("bad_request", _status_detail(e)) from None
        except (ValueError, TypeError, KeyError) as e:  # a body openai could not decode
            raise Transient("malformed_response", str(e)[:300]) from None
        choices = getattr(resp, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise Transient("malformed_response", f"no choices in the response: {str(resp)[:200]}")
        self.limiter.on_success()
        usage = getattr(resp, "usage", None)
        return CachedResponse(
            text=choices[0].message.content or "",
            finish_reason=choices[0].finish_reason or "stop",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )

    async def run(self, todo: list[tuple[int, LLMRequest]], results: list[Any], keys: list[str | None]) -> None:
        import openai  # lazy: openai takes 0.5 s to import; only live calls need it

        # llama-cpp-python answers one request at a time behind a lock: more in flight only queue there, and a
        # queued request's timeout clock runs while it waits (then it is retried and paid twice).
        serial = self.ep.local or self.ep.model == LOCAL_MODEL
        self.limiter = AimdLimiter(1 if serial else self.cfg.max_in_flight)
        self.client = openai.AsyncOpenAI(base_url=self.ep.base_url, api_key=self.ep.api_key,
                                         timeout=self.cfg.timeout_s, max_retries=0)

        async def one(i: int, req: LLMRequest) -> None:
            got = await self.run_item(req)
            if got is not None:
                results[i], keys[i] = got
                self._count(got[0])

        tasks = [asyncio.ensure_future(one(i, r)) for i, r in todo]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.stats.min_limit = self.limiter.min_limit
            self.stats.cuts = self.limiter.cuts
            await self.client.close()

    def _count(self, r: LLMResult) -> None:
        t = self.tally
        if r.ok:
            t.ok += 1
        else:
            t.failed += 1
            t.reasons[r.error or "unknown"] += 1
        t.cached += r.cached
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"${t.spent:.4f} spent, {t.failed} failed", refresh=False)


def _status_detail(e: Any) -> str:
    body = getattr(e, "body", None)
    return f"HTTP {e.status_code}: {str(body if body is not None else e)[:300]}"


def _run_coroutine(coro: Any) -> Any:
    """asyncio.run, or in a helper thread when the caller already runs a loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # handed back to the caller's thread below
            box["error"] = e

    th = threading.Thread(target=target)
    th.start()
    th.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_batch(requests: list[LLMRequest], cfg: LLMConfig, stage: str = "llm", desc: str | None = None,
              stats: BatchStats | None = None) -> list[LLMResult]:
    """One LLMResult per request, in request order (see the module docstring).

    Raises BudgetExceeded when --max-cost stops the run (rerun to resume: cached calls are free) and
    GolongError when the endpoint refuses the key or the model for every call.
    """
    log: Callable[[str], None] = (lambda _line: None) if cfg.quiet else _stderr
    ep = resolve_endpoint(cfg)
    price = ledger.price_of(ledger.load_prices(cfg.price_table, cfg.price_file or golong_home() / "prices.json"),
                            ep.model)
    if cfg.max_cost is not None and price is None:
        raise ConfigError(f"--max-cost needs a price for model {ep.model!r}",
                          f'add {{"{ep.model}": {{"input": USD_per_1M, "output": USD_per_1M}}}} to '
                          f"{golong_home() / 'prices.json'}")
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    n = len(requests)
    results: list[LLMResult | None] = [None] * n
    last_keys: list[str | None] = [None] * n
    with LLMCache(default_cache_path(cfg.cache_path), read=not (cfg.no_cache or cfg.refresh),
                  write=not cfg.no_cache) as cache:
        batch = _Batch(cfg, ep, cache, price, stage, run_id, log)
        batch.tally.submitted = n
        todo: list[tuple[int, LLMRequest]] = []
        for i, req in enumerate(requests):
            got = batch.replay(req)
            if got is None:
                todo.append((i, req))
            else:
                results[i], last_keys[i] = got
                batch._count(got[0])

        if cfg.dry_run:
            pt = sum(ledger.estimate_prompt_tokens(r.messages) for _, r in todo)
            mt = sum(r.max_tokens for _, r in todo)
            log(ledger.dry_run_line(stage, ep.model, len(todo), n - len(todo), pt, mt, price))
            for i, r in todo:
                results[i] = LLMResult(r.key, False, None, None, "dry_run", {}, False, "not sent: --dry-run")
            return [r for r in results if r is not None]

        if todo:
            if ep.local:
                log(f"{stage}: no endpoint configured; using the local {ep.model} server "
                    "(pass --base-url/--model or set OPENAI_BASE_URL to use another)")
                srv, started_here = local_server.start()
                local_server.register_user()
                ep.base_url = srv.base_url
                if started_here:
                    log(f"{stage}: started the local LLM at {srv.base_url} (pid {srv.pid}); it stops after the run "
                        "(`golong-data serve-local` keeps one running)")
            batch.bar = progress(total=n, initial=n - len(todo), desc=desc or stage, unit="call",
                                 enabled=cfg.progress, smoothing=0.1)
            try:
                _run_coroutine(batch.run(todo, results, last_keys))
            finally:
                batch.bar.close()
                if ep.local:
                    local_server.release_if_last()
        if stats is not None:
            stats.__dict__.update(batch.stats.__dict__)

        cache.record_outcomes(
            {"run_id": run_id, "stage": stage, "task_type": req.task_type, "model": ep.model, "item_key": req.key,
             "request_key": k, "ok": int(r.ok), "reason": r.error, "detail": r.detail, "cached": int(r.cached),
             "prompt_tokens": r.usage.get("prompt_tokens", 0), "completion_tokens": r.usage.get("completion_tokens", 0)}
            for req, r, k in zip(requests, results, last_keys, strict=True) if r is not None
        )
        log(ledger.summary_line(stage, ep.model, batch.tally))
        left = sum(r is None for r in results)
        if left:
            raise BudgetExceeded(
                f"{stage}: --max-cost ${cfg.max_cost:.4f} reached after ${batch.tally.spent:.4f}; "
                f"{n - left} of {n} items done and cached, {left} not finished",
                "rerun with a higher --max-cost to resume: cached calls are free",
            )
        return [r for r in results if r is not None]
