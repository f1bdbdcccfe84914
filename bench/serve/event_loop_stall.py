#!/usr/bin/env python3
"""How long a large request body stalls the other clients of `tessera serve`.

A streamed greedy completion runs; after its first tokens, `--big` concurrent `/tokenize`
requests with bodies of `--kib` KiB of words arrive, and a `/health` request is sent once their
bodies are in. The record: the stream's median gap between token events before the bodies, its
longest gap while they are tokenized, each `/tokenize`'s time, and the `/health` time. Where the
server parses and tokenizes on its event loop, the stream stops and `/health` waits for the whole
tokenization; off the loop, both go on.

    bench/serve/event_loop_stall.py --bin .build/release/tessera --model M.gguf [--rounds 3]

Plain asyncio sockets (no client library), so the client's own cost stays small. Prints one JSON
object per round and a summary line (medians, min-max).
"""
import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import time


async def http(host, port, method, path, body=b"", on_chunk=None):
    """One HTTP/1.1 request; returns (status, body bytes). on_chunk(t) sees every recv's time."""
    r, w = await asyncio.open_connection(host, port)
    head = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
        method, path, len(body))
    w.write(head.encode() + body)
    await w.drain()
    data = bytearray()
    while True:
        chunk = await r.read(65536)
        if not chunk:
            break
        if on_chunk:
            on_chunk(time.perf_counter(), chunk)
        data += chunk
    w.close()
    status = int(data[9:12]) if len(data) >= 12 else 0
    return status, bytes(data)


def words_body(kib, seed):
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    parts, size = [], 0
    while size < kib * 1024 - 64:
        w = "".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))
        parts.append(w)
        size += len(w) + 1
    return json.dumps({"content": " ".join(parts)}).encode()


async def one_round(host, port, model_id, big, kib, tokens, seed):
    token_times = []

    def on_chunk(t, chunk):
        token_times.extend([t] * chunk.count(b"data: {"))

    bodies = [words_body(kib, seed * 100 + i) for i in range(big)]  # before the stream: it takes the client ~1 s
    body = json.dumps({"model": model_id, "prompt": "The history of the printing press", "max_tokens": tokens,
                       "temperature": 0, "stream": True}).encode()
    stream = asyncio.create_task(http(host, port, "POST", "/v1/completions", body, on_chunk))
    while len(token_times) < 16:
        await asyncio.sleep(0.005)
    t_big = time.perf_counter()

    async def timed(coro):
        s, _ = await coro
        return s, time.perf_counter() - t_big

    tok = [asyncio.create_task(timed(http(host, port, "POST", "/tokenize", b))) for b in bodies]
    await asyncio.sleep(0.2)  # the bodies are in (loopback); tokenization is under way
    t_h = time.perf_counter()
    hs, _ = await http(host, port, "GET", "/health")
    health_s = time.perf_counter() - t_h
    done = await asyncio.gather(*tok)
    t_end = t_big + max(d for _, d in done)
    await stream
    before = [b - a for a, b in zip(token_times, token_times[1:]) if b <= t_big]
    during = [b - a for a, b in zip(token_times, token_times[1:]) if b > t_big and a < t_end]
    return {
        "tokenize_status": [s for s, _ in done], "health_status": hs,
        "tokenize_s": [round(d, 3) for _, d in done], "health_s": round(health_s, 4),
        "gap_before_median_ms": round(1e3 * statistics.median(before), 2) if before else None,
        "gap_during_max_ms": round(1e3 * max(during), 1) if during else None,
        "gap_during_median_ms": round(1e3 * statistics.median(during), 2) if during else None,
        "stream_tokens": len(token_times),
        "long_gaps": [(round(a - t_big, 3), round(b - a, 3)) for a, b in zip(token_times, token_times[1:])
                      if b - a > 0.05][:8],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the tessera executable")
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big", type=int, default=2, help="concurrent large /tokenize requests")
    ap.add_argument("--kib", type=int, default=900, help="each large body, KiB (the server's limit is 1024)")
    ap.add_argument("--tokens", type=int, default=400, help="tokens of the streamed completion")
    a = ap.parse_args()
    model_id = re.sub(r"\.gguf$", "", os.path.basename(a.model))
    p = subprocess.Popen([a.bin, "serve", "--model", a.model, "--port", "0", "--parallel", "4", "--ctx", "1024"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        m = re.search(r"listening on http://([0-9.]+):(\d+)", p.stdout.readline())
        if not m:
            raise SystemExit("tessera serve did not start")
        host, port = m.group(1), int(m.group(2))
        load = os.getloadavg()[0]
        rows = []
        for r in range(a.rounds):
            row = asyncio.run(one_round(host, port, model_id, a.big, a.kib, a.tokens, r + 1))
            row["round"] = r
            rows.append(row)
            print(json.dumps(row), flush=True)

        def med(key):
            v = [x[key] for x in rows if x[key] is not None]
            return "%s (%s-%s)" % (statistics.median(v), min(v), max(v)) if v else "-"
        print("load %.1f-%.1f; gap before (median ms) %s; longest gap during (ms) %s; median gap during (ms) %s; "
              "/health s %s" % (load, os.getloadavg()[0], med("gap_before_median_ms"), med("gap_during_max_ms"),
                                med("gap_during_median_ms"), med("health_s")))
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
