"""`make bench-serve` timings: (1) one stream's decode rate through `tessera serve` against
`tessera generate` on the same prompt (alternated rounds), (2) aggregate generated tokens/s at
1, 4, 16 and 32 concurrent streams. Prints one JSON line per measurement.

    TESSERA_BIN=.../tessera python bench_serve.py [rounds]
"""
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time

import httpx2 as httpx  # the HTTP client the openai SDK (3.x) itself uses

from serveproc import MODEL_ID, Server, tessera_bin

PROMPT = "Write a long story about a lighthouse keeper and the sea."
TOKENS = 160


async def stream_rate(client, base, prompt=PROMPT, tokens=TOKENS, seed=None):
    """Streams one completion; returns (tokens, seconds from first to last token, seconds to first token)."""
    body = {"model": MODEL_ID, "prompt": prompt, "max_tokens": tokens, "temperature": 0, "stream": True,
            "ignore_eos": True}
    if seed is not None:
        body.update(temperature=0.8, seed=seed)
    t0 = time.perf_counter()
    first = last = None
    n = 0
    async with client.stream("POST", base + "/v1/completions", json=body) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: {"):
                c = json.loads(line[6:])
                if c["choices"] and c["choices"][0]["finish_reason"] is None:
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    n += 1
    return n, last - first, first - t0


def generate_rate():
    out = subprocess.run([tessera_bin(), "generate", "--prompt", PROMPT, "--max-tokens", str(TOKENS), "--ignore-eos"],
                         capture_output=True, text=True, check=True).stderr
    m = re.search(r"generated (\d+) tokens, ([0-9.]+) tokens/s", out)
    return float(m.group(2))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    s = Server("--parallel", "32", "--ctx", "512", "--queue", "64")
    try:
        async def one():
            async with httpx.AsyncClient(timeout=600) as c:
                n, dt, _ = await stream_rate(c, s.base)
                return (n - 1) / dt
        asyncio.run(one())   # warm-up
        serve, gen = [], []
        for _ in range(rounds):
            gen.append(generate_rate())
            serve.append(asyncio.run(one()))
        med = lambda xs: statistics.median(xs)
        print(json.dumps({"bench": "serve-1-stream-vs-generate", "serve_tok_s": med(serve), "serve_min_max": [min(serve), max(serve)],
                          "generate_tok_s": med(gen), "generate_min_max": [min(gen), max(gen)],
                          "ratio": med(serve) / med(gen), "rounds": rounds, "tokens": TOKENS}))
        for streams in (1, 4, 16, 32):
            async def many():
                async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=64)) as c:
                    t0 = time.perf_counter()
                    res = await asyncio.gather(*[stream_rate(c, s.base, tokens=64, seed=i) for i in range(streams)])
                    wall = time.perf_counter() - t0
                    return sum(r[0] for r in res) / wall, sorted(r[2] for r in res)
            rate, ttft = asyncio.run(many())
            print(json.dumps({"bench": "serve-aggregate", "streams": streams, "tok_s": rate,
                              "ttft_p50_s": ttft[len(ttft) // 2], "ttft_max_s": ttft[-1]}))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
