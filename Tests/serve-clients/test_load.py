"""A bounded loopback load test of `tessera serve`: many concurrent SSE streams with mixed prompt
lengths, greedy and seeded requests, and clients that hang up mid-stream. Checks: no crash, no
request lost or duplicated, the slots all free afterwards, memory flat across rounds, and every
completed response identical to the same request run alone.

SERVE_LOAD_STREAMS (default 64) and SERVE_LOAD_ROUNDS (default 2) size it; `make bench-serve`
runs a heavier version."""
import asyncio
import json
import os
import random

import httpx2 as httpx  # the HTTP client the openai SDK (3.x) itself uses

from serveproc import MODEL_ID, Server

STREAMS = int(os.environ.get("SERVE_LOAD_STREAMS", "64"))
ROUNDS = int(os.environ.get("SERVE_LOAD_ROUNDS", "2"))
PARALLEL = os.environ.get("SERVE_LOAD_PARALLEL", "16")
TOPICS = ["rivers", "a lighthouse", "bees", "snow", "clocks", "the desert", "a violin", "maps"]


def spec(i):
    """Request i of a set of 16 distinct ones (prompt lengths from ~30 to ~200 tokens)."""
    k = i % 16
    text = "Write about %s." % TOPICS[k % len(TOPICS)] + " Give details and examples." * (1 + 3 * (k % 5))
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": text}], "max_tokens": 8 + (k * 5) % 17,
            "stream": True, "ignore_eos": True}
    if k % 2:
        body.update(temperature=0.8, top_p=0.9, seed=100 + k)
    else:
        body.update(temperature=0)
    return k, body


async def run(client, base, body, hang_up_after=None):
    """Streams one request; returns (text, finish_reason, ids) or None when it hung up on purpose."""
    pieces, finish, ids, done = [], None, set(), False
    async with client.stream("POST", base + "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200, await r.aread()
        n = 0
        async for line in r.aiter_lines():
            if not line or line.startswith(": "):   # blank separators, keep-alive comments
                continue
            assert line.startswith("data: "), line
            if line == "data: [DONE]":
                done = True
                continue
            assert not done, "data after [DONE]"
            c = json.loads(line[6:])
            ids.add(c["id"])
            n += 1
            if hang_up_after is not None and n >= hang_up_after:
                return None
            if c["choices"]:
                pieces.append(c["choices"][0]["delta"].get("content") or "")
                finish = c["choices"][0]["finish_reason"] or finish
    assert done and len(ids) == 1
    return "".join(pieces), finish, ids.pop()


async def load_round(base, rng):
    limits = httpx.Limits(max_connections=STREAMS + 8, max_keepalive_connections=STREAMS + 8)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        jobs, plan = [], []
        for i in range(STREAMS):
            k, body = spec(i)
            hang = rng.choice([None, None, None, 1, 3]) if i % 4 == 3 else None
            plan.append((k, hang))
            jobs.append(run(client, base, body, hang))
        return plan, await asyncio.gather(*jobs)


def test_load_streams_disconnects_memory_and_solo_equality():
    s = Server("--parallel", PARALLEL, "--ctx", "512", "--queue", str(STREAMS + 16), "--step-tokens", "128")
    try:
        rng = random.Random(2024)
        # solo reference: each distinct request alone
        async def solos():
            async with httpx.AsyncClient(timeout=600) as client:
                return [await run(client, s.base, spec(k)[1]) for k in range(16)]
        solo = asyncio.run(solos())
        rss = []
        for round_ in range(ROUNDS):
            plan, results = asyncio.run(load_round(s.base, rng))
            seen_ids = set()
            for (k, hang), res in zip(plan, results):
                if hang is not None:
                    assert res is None
                    continue
                text, finish, rid = res
                assert rid not in seen_ids, "duplicate response id"
                seen_ids.add(rid)
                assert (text, finish) == solo[k][:2], "request %d differs from its solo run" % k
            # every slot free again, nothing queued
            for _ in range(100):
                if s.metric("tessera_active_sequences") == 0 and s.metric("tessera_queue_depth") == 0:
                    break
                asyncio.run(asyncio.sleep(0.1))
            assert s.metric("tessera_active_sequences") == 0
            assert s.metric("tessera_queue_depth") == 0
            rss.append(s.rss_kib())
        # every request was counted once: 16 solos + STREAMS per round
        assert s.metric("tessera_requests_total") == 16 + STREAMS * ROUNDS
        assert s.proc.poll() is None, "server died"
        # memory flat: the K/V slots are allocated up front; later rounds do not grow
        assert rss[-1] <= rss[0] * 1.10 + 16 * 1024, rss
    finally:
        assert s.stop() == 0, "".join(s.log[-30:])
