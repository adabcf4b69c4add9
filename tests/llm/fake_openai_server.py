"""A small OpenAI-compatible chat server for fault tests and the benchmark (stdlib asyncio, HTTP/1.1 keep-alive).

It answers POST /v1/chat/completions and GET /v1/models, and injects faults on a deterministic schedule:
the fate of a request is a hash of (its content, how many times this server has seen that content, seed),
so a retry draws a fresh fate while two servers with the same seed behave alike. Length truncation is a
property of the content alone (a model truncates the same prompt the same way). It counts everything at
the server side: arrivals per content, 200-answers per content, concurrency.

    with FakeOpenAIServer(faults={"rate_limit": 0.3}) as srv:
        ... LLMConfig(base_url=srv.base_url, model="fake") ...

Run standalone (the bench does, so client and server do not share a GIL):
    python fake_openai_server.py --latency 0.05   # prints the port, serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

FAULT_ORDER = ("rate_limit", "server_error", "hang", "malformed")
ISSUE_SCHEDULE = {"rate_limit": 0.30, "server_error": 0.10, "hang": 0.05, "malformed": 0.05}


def content_hash(body: dict[str, Any]) -> str:
    """What identifies a request's content (the messages and sampling params, not the transport)."""
    keep = {k: body.get(k) for k in ("model", "messages", "temperature", "max_tokens", "seed", "response_format")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def _unit(*parts: object) -> float:
    h = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def default_reply(body: dict[str, Any]) -> str:
    """Deterministic: plain text, or a JSON object when a response_format asks for one."""
    h = content_hash(body)[:12]
    if body.get("response_format"):
        return json.dumps({"answer": h})
    return f"answer {h}"


class FakeOpenAIServer:
    def __init__(
        self,
        latency: float = 0.0,
        faults: dict[str, float] | None = None,
        length_rate: float = 0.0,
        seed: int = 0,
        hang_s: float = 2.0,
        retry_after: str = "0.05",
        reply: Callable[[dict[str, Any]], str] = default_reply,
        usage: tuple[int, int] | None = None,  # fixed (prompt, completion) tokens; default ~chars/4 and 8
        status_for: Callable[[dict[str, Any], dict[str, str]], tuple[int, str] | None] | None = None,
    ) -> None:
        self.latency, self.faults, self.length_rate, self.seed = latency, faults or {}, length_rate, seed
        self.hang_s, self.retry_after, self.reply, self.usage, self.status_for = (
            hang_s, retry_after, reply, usage, status_for)
        self.port = 0
        self.requests = 0  # chat requests received
        self.seen: Counter[str] = Counter()  # arrivals per content hash
        self.answered: Counter[str] = Counter()  # 200 answers per content hash (length-truncated ones included)
        self.fates: Counter[str] = Counter()
        self.length_items: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.trace: list[tuple[float, int]] = []  # (arrival time, in flight then): concurrency over time
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -------------------------------------------------- lifecycle (background thread)
    def start(self) -> FakeOpenAIServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    async def _serve(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------- HTTP
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, v = h.decode("latin-1").split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = await self._route(method, path.split("?")[0], headers, body)
                if answer is None:  # a hang: keep the client waiting past its timeout, then drop the connection
                    await asyncio.sleep(self.hang_s)
                    return
                status, extra, payload = answer
                reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                          429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "Error")
                head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json",
                        f"content-length: {len(payload)}", *[f"{k}: {v}" for k, v in extra.items()]]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            return  # a client gone, or the server shutting down: nothing to answer
        finally:
            writer.close()

    async def _route(self, method: str, path: str, headers: dict[str, str],
                     raw: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if method == "GET" and path.endswith("/models"):
            return 200, {}, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
        if not (method == "POST" and path.endswith("/chat/completions")):
            return 404, {}, b'{"error": {"message": "not found"}}'
        body = json.loads(raw)
        h = content_hash(body)
        with self._lock:
            self.requests += 1
            self.seen[h] += 1
            nth = self.seen[h]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.trace.append((time.monotonic(), self.in_flight))
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.status_for is not None:
                custom = self.status_for(body, headers)
                if custom is not None:
                    return custom[0], {}, custom[1].encode()
            fate = self._fate(h, nth)
            self.fates[fate] += 1
            if fate == "rate_limit":
                return 429, {"retry-after": self.retry_after}, b'{"error": {"message": "rate limited"}}'
            if fate == "server_error":
                return 500, {}, b'{"error": {"message": "boom"}}'
            if fate == "hang":
                return None
            if fate == "malformed":
                return 200, {}, b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess'
            text = self.reply(body)
            finish = "stop"
            if self.length_rate and _unit("length", h, self.seed) < self.length_rate:
                self.length_items.add(h)
                text, finish = text[: max(1, len(text) // 2)], "length"
            with self._lock:
                self.answered[h] += 1
            prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
            pt, ct = self.usage or (prompt_chars // 4 + 1, 8)
            resp = {
                "id": f"chatcmpl-{h[:8]}", "object": "chat.completion", "created": 0, "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
            }
            return 200, {}, json.dumps(resp).encode()
        finally:
            with self._lock:
                self.in_flight -= 1

    def _fate(self, h: str, nth: int) -> str:
        u = _unit("fault", h, nth, self.seed)
        edge = 0.0
        for name in FAULT_ORDER:
            edge += self.faults.get(name, 0.0)
            if u < edge:
                return name
        return "ok"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = FakeOpenAIServer(latency=args.latency)

    async def serve() -> None:
        await srv._serve(args.port)
        print(srv.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
