#!/usr/bin/env python3
"""One stream through two running `tessera serve` instances, alternated round by round.

Compares two servers of the same model (e.g. one started with `TESSERA_SERVE_PACE_US=0` beside
one with the default) on the rate of one 128-token stream each, rotating which goes first.
Prints each server's median tok/s (min-max) and the median of the per-round ratios
second / first.

    bench/serve/server_ab.py MODEL_ID PORT_A,PORT_B ROUNDS greedy|seeded
"""
import asyncio, json, sys, time, statistics
async def run(port, model, seed, greedy):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    body = {"model": model, "prompt": "The history of the printing press", "max_tokens": 128, "ignore_eos": True, "stream": True}
    body.update({"temperature": 0} if greedy else {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": seed})
    b = json.dumps(body).encode()
    w.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
    await w.drain()
    times = []
    while True:
        c = await r.read(65536)
        if not c: break
        n = c.count(b"data: {")
        times += [time.perf_counter()] * n
        if b"[DONE]" in c: break
    w.close()
    return (len(times) - 1) / (times[-1] - times[0])
model = sys.argv[1]; ports = [int(p) for p in sys.argv[2].split(",")]; rounds = int(sys.argv[3]); greedy = sys.argv[4] == "greedy"
res = {p: [] for p in ports}
for i in range(rounds):
    order = ports if i % 2 == 0 else ports[::-1]
    for p in order:
        res[p].append(asyncio.run(run(p, model, i + 1, greedy)))
ratios = [res[ports[1]][i] / res[ports[0]][i] for i in range(rounds)]
for p in ports: print(p, "median %.1f tok/s (%.1f-%.1f)" % (statistics.median(res[p]), min(res[p]), max(res[p])))
print("ratio second/first median %.3f (%.3f-%.3f)" % (statistics.median(ratios), min(ratios), max(ratios)))
