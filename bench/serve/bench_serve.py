"""`tessera bench serve`: `tessera serve` against llama.cpp's `llama-server` (its own C++ HTTP server
with continuous batching over `-np` slots), same model, same prompts, same sampling, same
concurrency, in alternated rounds. Prints one JSON line per case (the `tessera bench --json`
record: case, unit, ours, baseline, speedup, min/max, load average).

Cases, per model:
  aggregate generated tokens/s at 1, 4, 16, 32 concurrent streams (ours vs llama-server; also
      ours at N streams over ours at 1 stream: `scaling`), and TTFT p50/p99 at each;
  one stream's decode rate through the server vs `tessera generate`: same prompt, same max tokens
      (--single-tokens), greedy and seeded sampling, alternated rounds, each rate over the tokens
      after the first as seen by its consumer (generate's own clock; for the server, a minimal
      socket client that timestamps each event, and for comparison httpx parsing every chunk, whose
      own CPU time on a 2-core machine is taken from the forward).

    python bench_serve.py --tessera BIN [--llama-server BIN] --model PATH [--model PATH]
                          [--threads 2] [--rounds 3] [--tokens 128] [--quick]
                          [--kv-cache f32|f16|bf16] [--vs-kv-cache f32|f16|bf16] [--streams 1,16]
                          [--cases greedy,sampled,httpx]

--kv-cache is passed to `tessera serve` and `tessera generate` and recorded in every record
(kv_cache; "default" without it); --vs-kv-cache runs a second server of ours with another type,
alternated with the first round by round (an A/B of the cache type on one binary, one run);
--streams and --cases narrow a run to the cases an A/B needs.
"""
import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import httpx2 as httpx  # the HTTP client the openai SDK (3.x) itself uses

TOPICS = ["a lighthouse keeper", "the first train to the coast", "a city under snow", "bread and bakers",
          "a robot learning to paint", "an old library", "the moon's far side", "a quiet street at dawn",
          "coffee growers", "a chess tournament", "a garden in spring", "the deep sea", "a violin maker",
          "a long bridge", "mountain rescue", "a night market"]


def prompt(i):
    return "Write a long, detailed story about %s. Chapter 1:" % TOPICS[i % len(TOPICS)]


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Proc:
    """A server process; `base` once its port answers."""

    def __init__(self, cmd, env, port_re=None, port=None):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.log = []
        self.port = port
        found = threading.Event()

        def drain(stream):
            for line in stream:
                self.log.append(line)
                if port_re and self.port is None:
                    m = re.search(port_re, line)
                    if m:
                        self.port = int(m.group(1))
                        found.set()
        for s in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=drain, args=(s,), daemon=True).start()
        if port_re:
            found.wait(120)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (cmd[0], "".join(self.log[-20:])))
            try:
                if self.port and httpx.get("http://127.0.0.1:%d/health" % self.port, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("%s did not become healthy" % cmd[0])
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def stream_body(model_id, i, tokens, greedy):
    """The request of stream i of the aggregate case: seeded sampling unless greedy."""
    body = {"model": model_id, "prompt": prompt(i), "max_tokens": tokens, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    if greedy:
        body["temperature"] = 0
    else:
        body.update(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, seed=1000 + i)
    return body


async def one_stream(client, base, model_id, i, tokens, greedy):
    """One streamed completion: (generated tokens, seconds to first token, first/last token times)."""
    body = stream_body(model_id, i, tokens, greedy)
    t0 = time.perf_counter()
    async with client.stream("POST", base + "/v1/completions", json=body) as r:
        if r.status_code != 200:
            raise RuntimeError("HTTP %d: %s" % (r.status_code, await r.aread()))
        tally = StreamTally()
        async for line in r.aiter_lines():
            if line.startswith("data: {"):
                tally.add(time.perf_counter(), json.loads(line[6:]))
    return tally.result(tokens, t0)


class StreamTally:
    """What a streamed completion's events say: tokens (from `usage`, else the chunks), and the
    times of the first and last text chunk."""

    def __init__(self):
        self.first = self.last = self.usage = self.reason = None
        self.chunks = 0

    def add(self, now, c):
        if c.get("usage"):
            self.usage = c["usage"].get("completion_tokens")
        ch = c.get("choices") or []
        if not ch:
            return
        if ch[0].get("finish_reason"):
            self.reason = ch[0]["finish_reason"]
        if ch[0].get("text"):
            self.first = self.first or now
            self.last = now
            self.chunks += 1

    def result(self, tokens, t0):
        """(generated tokens, seconds to first token, first/last token times, start)."""
        n = self.usage if self.usage else (tokens if self.reason == "length" else self.chunks)
        return n, (self.first or time.perf_counter()) - t0, self.first, self.last, t0


def sse_events(received):
    """The SSE events of a raw HTTP/1.1 response read as [(recv time, bytes)], each with the time
    of the `recv` that completed it: the headers are skipped and a chunked body is de-chunked
    (a chunk may split an event), so any server's framing reads the same."""
    raw = b"".join(d for _, d in received)
    ends, at = [], 0
    for now, d in received:
        at += len(d)
        ends.append((at, now))
    def time_at(offset):   # the recv that delivered byte `offset`
        for end, now in ends:
            if offset < end:
                return now
        return ends[-1][1]
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        raise RuntimeError("no HTTP response headers")
    head, pos = raw[:head_end].lower(), head_end + 4
    status = int(head.split(b" ", 2)[1])
    segments = []   # (bytes of the body, their offset in raw)
    if b"transfer-encoding: chunked" in head:
        while pos < len(raw):
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(raw[pos:line_end].split(b";")[0], 16)
            if size == 0:
                break
            segments.append((raw[line_end + 2:line_end + 2 + size], line_end + 2))
            pos = line_end + 2 + size + 2
    else:
        segments.append((raw[pos:], pos))
    body = b"".join(d for d, _ in segments)
    starts, at = [], 0   # (offset in body, offset in raw) of each segment
    for d, off in segments:
        starts.append((at, off))
        at += len(d)
    def raw_offset(b):
        for seg_start, off in reversed(starts):
            if b >= seg_start:
                return off + (b - seg_start)
        return 0
    events, start = [], 0
    while start < len(body):
        k = body.find(b"\n\n", start)
        end = len(body) if k < 0 else k + 2   # an event is complete with its blank line
        events.append((time_at(raw_offset(end - 1)), body[start:end]))
        start = end
    return status, events


async def lean_stream(host, port, model_id, i, tokens):
    """One streamed completion read by a minimal asyncio client: while the response streams it
    only receives and timestamps what arrives; the events are parsed after the response has
    ended (`Connection: close`). Returns what `one_stream` returns."""
    body = json.dumps(stream_body(model_id, i, tokens, greedy=False)).encode()
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n" % (host.encode(), len(body)) + body)
    await writer.drain()
    received, clock = [], time.perf_counter
    keep = received.append
    while True:
        d = await reader.read(65536)
        if not d:
            break
        keep((clock(), d))
    writer.close()
    status, events = sse_events(received)
    if status != 200:
        raise RuntimeError("HTTP %d: %r" % (status, b"".join(d for _, d in received)[:300]))
    tally = StreamTally()
    for now, e in events:
        at = e.find(b"data: {")
        if at >= 0:
            tally.add(now, json.loads(e[at + 6:]))
    return tally.result(tokens, t0)


async def lean_concurrent(base, model_id, streams, tokens):
    """`concurrent` with the minimal client: on two cores the clients' parsing would otherwise be
    taken from the server's forward at every concurrency."""
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    t0 = time.perf_counter()
    res = await asyncio.gather(*[lean_stream(host, int(port), model_id, i, tokens) for i in range(streams)])
    wall = time.perf_counter() - t0
    return sum(r[0] for r in res) / wall, [r[1] for r in res]


async def concurrent(base, model_id, streams, tokens):
    async with httpx.AsyncClient(timeout=900, limits=httpx.Limits(max_connections=streams + 4)) as c:
        t0 = time.perf_counter()
        res = await asyncio.gather(*[one_stream(c, base, model_id, i, tokens, greedy=False) for i in range(streams)])
        wall = time.perf_counter() - t0
    return sum(r[0] for r in res) / wall, [r[1] for r in res]


SAMPLED = dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, seed=1000)


def single_body(model_id, tokens, sampled):
    body = {"model": model_id, "prompt": prompt(0), "max_tokens": tokens, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    body.update(SAMPLED if sampled else {"temperature": 0})
    return body


def lean_single_rate(port, model_id, tokens, sampled=False):
    """One streamed request for prompt(0) read by a minimal client, so that the rate is the
    server's and not the client's: on two cores every client cycle is taken from the forward.
    While the response streams, the client only receives and timestamps what arrives (the
    bytes and the time of each `recv`), as `tessera generate`'s reader (subprocess's
    `communicate` on its stdout pipe) does per token; the events are split and parsed after
    the response has ended (the server closes the connection after `data: [DONE]`), each
    event timed by the `recv` that completed it. The rate is (tokens - 1) over the time from
    the first token's event to the last one's (the time to first token left out, as
    `tessera generate`'s rate leaves out the prefill)."""
    import socket
    payload = json.dumps(single_body(model_id, tokens, sampled)).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
    received = []
    clock, recv, keep = time.perf_counter, s.recv, received.append
    while True:
        data = recv(65536)
        if not data:
            break
        keep((clock(), data))
    s.close()
    times, usage, pending = [], None, b""
    for now, data in received:
        pending += data
        *events, pending = pending.split(b"\n\n")
        for e in events:
            at = e.find(b"data: {")
            if at < 0:
                continue
            e = e[at + 6:]
            if b'"usage"' in e and b'"choices":[]' in e:
                usage = json.loads(e)["usage"]["completion_tokens"]
            elif b'"finish_reason":null' in e and b'"text":""' not in e:
                times.append(now)
    if usage != tokens:
        raise RuntimeError("the server generated %s tokens, not %d" % (usage, tokens))
    return (tokens - 1) / (times[-1] - times[0])


async def single_rate(base, model_id, tokens, sampled=False):
    """As lean_single_rate, read by httpx line by line with every chunk parsed (what an SDK does)."""
    first = last = None
    usage = None
    async with httpx.AsyncClient(timeout=900) as c:
        async with c.stream("POST", base + "/v1/completions", json=single_body(model_id, tokens, sampled)) as r:
            async for line in r.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                ch = json.loads(line[6:])
                if ch.get("usage"):
                    usage = ch["usage"]["completion_tokens"]
                if (ch.get("choices") or [{}])[0].get("text"):
                    last = time.perf_counter()
                    first = first or last
    if usage != tokens:
        raise RuntimeError("the server generated %s tokens, not %d" % (usage, tokens))
    return (tokens - 1) / (last - first)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def summary(xs):
    return statistics.median(xs), min(xs), max(xs)


def emit(rec):
    print(json.dumps(rec, sort_keys=True), flush=True)


def engine_counters(base):
    """The engine's cumulative step count and seconds by forward part / phase (from /metrics)."""
    try:
        m = httpx.get(base + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    c = {k: float(v) for k, v in re.findall(r'tessera_forward_seconds_total\{part="(\w+)"\} ([0-9.e+-]+)', m)}
    c.update({"phase_" + k: float(v) for k, v in re.findall(r'tessera_engine_seconds_total\{phase="(\w+)"\} ([0-9.e+-]+)', m)})
    steps = re.search(r"^tessera_engine_steps_total ([0-9.e+-]+)", m, re.M)
    c["steps"] = float(steps.group(1)) if steps else 0.0
    return c


def note(s):
    print(s, file=sys.stderr, flush=True)


def generate_rate(tessera, model, tokens, env, sampled=False, kv_cache=None, context=None):
    """`tessera generate` on prompt(0) with the same max tokens and sampling as `single_rate`:
    its own decode rate, (tokens - 1) over the time from the first token to the last.
    `context`: its K/V cache's positions (the server's `--ctx`, so that both caches have the
    same size and layout)."""
    cmd = [tessera, "generate", "--model", model, "--prompt", prompt(0), "--max-tokens", str(tokens), "--ignore-eos"]
    if context:
        cmd += ["--context", str(context)]
    if kv_cache:
        cmd += ["--kv-cache", kv_cache]
    if sampled:
        cmd += ["--temperature", str(SAMPLED["temperature"]), "--top-k", str(SAMPLED["top_k"]), "--top-p",
                str(SAMPLED["top_p"]), "--min-p", str(SAMPLED["min_p"]), "--seed", str(SAMPLED["seed"])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
    m = re.search(r"generated (\d+) tokens, ([0-9.]+) tokens/s", out)
    if int(m.group(1)) != tokens:
        raise RuntimeError("tessera generate made %s tokens, not %d" % (m.group(1), tokens))
    return float(m.group(2))


def per_step(c):
    """Milliseconds per engine step of each forward part and phase, from summed counter deltas."""
    steps = c.get("steps", 0.0)
    return {k: round(1000 * v / steps, 3) for k, v in sorted(c.items()) if k != "steps"} if steps else {}


def bench_model(a, model, env):
    name = os.path.basename(model).rsplit(".gguf", 1)[0]
    ctx = 64 + max(a.tokens, a.single_tokens) + 64
    ours = Proc([a.tessera, "serve", "--model", model, "--port", "0", "--parallel", "32", "--ctx", str(ctx),
                 "--queue", "256"] + (["--kv-cache", a.kv_cache] if a.kv_cache else []), env,
                port_re=r"listening on http://[0-9.]+:(\d+)")
    peer = other = None
    try:
        if a.vs_kv_cache and not a.single_only:   # the same binary with another K/V cache type
            other = Proc([a.tessera, "serve", "--model", model, "--port", "0", "--parallel", "32", "--ctx", str(ctx),
                          "--queue", "256", "--kv-cache", a.vs_kv_cache], env,
                         port_re=r"listening on http://[0-9.]+:(\d+)")
        if a.llama_server and not a.single_only:
            port = free_port()
            peer = Proc([a.llama_server, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-np", "32",
                         "-c", str(32 * ctx), "-t", str(a.threads), "-tb", str(a.threads), "--no-warmup"],
                        env, port=port)
        servers = [("ours", ours)] + ([("kv", other)] if other else []) + ([("peer", peer)] if peer else [])
        for _, s in servers:   # warm-up: page the weights in, fill allocator pools
            asyncio.run(concurrent(s.base, name, 4, 16))
        # (1) aggregate tokens/s and TTFT at each concurrency, alternated rounds
        stream_counts = [] if a.single_only else a.streams or ([1, 4, 16] if a.quick else [1, 4, 16, 32])
        rates = {(w, n): [] for w, _ in servers for n in stream_counts}
        ttfts = {(w, n): [] for w, _ in servers for n in stream_counts}
        parts = {(w, n): {} for w, _ in servers for n in stream_counts}   # engine seconds over the runs
        loads = []
        for r in range(a.rounds):
            for n in stream_counts:
                order = servers if r % 2 == 0 else servers[::-1]
                for w, s in order:
                    loads.append(float(loadavg()))
                    c0 = engine_counters(s.base) if w != "peer" else None
                    client = lean_concurrent if a.client == "lean" else concurrent
                    rate, tt = asyncio.run(client(s.base, name, n, a.tokens))
                    c1 = engine_counters(s.base) if c0 else None
                    if c0 and c1:
                        for k in c1:
                            parts[(w, n)][k] = parts[(w, n)].get(k, 0.0) + c1[k] - c0.get(k, 0.0)
                    rates[(w, n)].append(rate)
                    ttfts[(w, n)].extend(tt)
                    note("serve %s: round %d, %d streams, %s: %.1f tok/s, TTFT p50 %.3f s" % (name, r, n, w, rate, pct(tt, 0.5)))
        one = statistics.median(rates[("ours", 1)]) if stream_counts else 0
        for n in stream_counts:
            m, lo, hi = summary(rates[("ours", n)])
            rec = {"case": "serve %s aggregate, %d streams" % (name, n), "unit": "tok/s", "ours": m, "ours_min": lo,
                   "ours_max": hi, "scaling_vs_1_stream": m / one, "threads": a.threads, "rounds": a.rounds,
                   "tokens_per_stream": a.tokens, "client": a.client, "ttft_p50_s": pct(ttfts[("ours", n)], 0.5),
                   "ttft_p99_s": pct(ttfts[("ours", n)], 0.99), "loadavg_median": statistics.median(loads),
                   "loadavg_max": max(loads), "kv_cache": a.kv_cache or "default", "ours_runs": rates[("ours", n)],
                   "ms_per_step": per_step(parts[("ours", n)])}
            if peer:
                pm, plo, phi = summary(rates[("peer", n)])
                rec.update(baseline_name="llama-server (llama.cpp, llama-cpp-python %s sdist)" % a.peer_version,
                           baseline=pm, baseline_min=plo, baseline_max=phi, speedup=m / pm,
                           baseline_ttft_p50_s=pct(ttfts[("peer", n)], 0.5), baseline_ttft_p99_s=pct(ttfts[("peer", n)], 0.99))
            else:
                rec.update(baseline_name="ours at 1 stream x %d" % n, baseline=one * n, speedup=m / (one * n))
            emit(rec)
            if other:
                # ours (--kv-cache A) against the same binary with --kv-cache B, rounds alternated:
                # the ratio of each round's pair, and each one's scaling over its own 1 stream
                mine, theirs = rates[("ours", n)], rates[("kv", n)]
                om = statistics.median(rates[("kv", 1)])
                km, klo, khi = summary(theirs)
                emit({"case": "serve %s aggregate, %d streams, kv cache %s vs %s" % (name, n, a.kv_cache or "default",
                                                                                    a.vs_kv_cache),
                      "unit": "tok/s", "ours": m, "ours_min": lo, "ours_max": hi, "kv_cache": a.kv_cache or "default",
                      "baseline_name": "tessera serve --kv-cache %s" % a.vs_kv_cache, "baseline": km,
                      "baseline_min": klo, "baseline_max": khi, "speedup": m / km,
                      "round_ratios": [x / y for x, y in zip(mine, theirs)], "ours_runs": mine, "baseline_runs": theirs,
                      "scaling_vs_1_stream": m / one, "baseline_scaling_vs_1_stream": km / om,
                      "ttft_p99_s": rec["ttft_p99_s"], "baseline_ttft_p99_s": pct(ttfts[("kv", n)], 0.99),
                      "threads": a.threads, "rounds": a.rounds, "loadavg_median": statistics.median(loads),
                      "loadavg_max": max(loads), "ms_per_step": per_step(parts[("ours", n)]),
                      "baseline_ms_per_step": per_step(parts[("kv", n)])})
            if peer:
                o99, p99 = rec["ttft_p99_s"], rec["baseline_ttft_p99_s"]
                emit({"case": "serve %s TTFT p99, %d streams" % (name, n), "unit": "s", "ours": o99,
                      "baseline_name": "llama-server", "baseline": p99, "speedup": p99 / o99 if o99 > 0 else 0,
                      "ours_p50": rec["ttft_p50_s"], "baseline_p50": rec["baseline_ttft_p50_s"], "threads": a.threads})
        # (2) one stream through the server vs `tessera generate`: the same prompt, max tokens
        # and sampling (greedy, and sampled with a seed), alternated rounds, each rate over
        # the tokens after the first (see single_rate / generate_rate)
        cases = [("greedy", False, "lean"), ("sampled, seeded", True, "lean"), ("greedy, httpx client", False, "httpx")]
        wanted = a.cases.split(",")
        cases = [c for c, key in zip(cases, ["greedy", "sampled", "httpx"]) if key in wanted]
        for label, sampled, client in cases:
            def served():
                if client == "lean":
                    return lean_single_rate(ours.port, name, a.single_tokens, sampled)
                return asyncio.run(single_rate(ours.base, name, a.single_tokens, sampled))
            serve_r, gen_r, loads = [], [], []
            for r in range(max(a.rounds, 3)):
                loads.append(float(loadavg()))
                if r % 2 == 0:
                    gen_r.append(generate_rate(a.tessera, model, a.single_tokens, env, sampled, a.kv_cache, ctx))
                    serve_r.append(served())
                else:
                    serve_r.append(served())
                    gen_r.append(generate_rate(a.tessera, model, a.single_tokens, env, sampled, a.kv_cache, ctx))
                note("serve %s: 1 stream %s, round %d: server %.1f tok/s, generate %.1f tok/s" % (
                    name, label, r, serve_r[-1], gen_r[-1]))
            sm, slo, shi = summary(serve_r)
            gm, glo, ghi = summary(gen_r)
            ratios = [x / y for x, y in zip(serve_r, gen_r)]
            emit({"case": "serve %s 1 stream vs tessera generate (%s)" % (name, label),
                  "unit": "tok/s", "ours": sm, "ours_min": slo, "ours_max": shi, "baseline_name": "tessera generate",
                  "baseline": gm, "baseline_min": glo, "baseline_max": ghi, "speedup": sm / gm,
                  "round_ratio_median": statistics.median(ratios), "round_ratio_min": min(ratios),
                  "round_ratio_max": max(ratios), "client": client, "threads": a.threads,
                  "kv_cache": a.kv_cache or "default",
                  "rounds": len(serve_r), "tokens": a.single_tokens, "loadavg_median": statistics.median(loads)})
        try:
            m = httpx.get(ours.base + "/metrics", timeout=10).text
            phases = dict(re.findall(r'tessera_engine_seconds_total\{phase="(\w+)"\} ([0-9.e+-]+)', m))
            note("serve %s: engine seconds by phase %s" % (name, phases))
        except httpx.HTTPError:
            pass
    finally:
        ours.stop()
        if peer:
            peer.stop()
        if other:
            other.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tessera", required=True)
    p.add_argument("--llama-server")
    p.add_argument("--peer-version", default="0.3.36")
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--single-tokens", type=int, default=128, help="tokens of the 1-stream vs generate case")
    p.add_argument("--single-only", action="store_true", help="only the 1-stream vs tessera generate cases")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--kv-cache", choices=["f32", "f16", "bf16"],
                   help="K/V cache type of our server and `tessera generate` (default: theirs); recorded as kv_cache")
    p.add_argument("--vs-kv-cache", choices=["f32", "f16", "bf16"],
                   help="also run our server with this K/V cache type, alternated round by round with --kv-cache's "
                        "in the aggregate case (one record per concurrency: the pair's tok/s, round ratios, scaling)")
    p.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")],
                   help="comma-separated concurrencies of the aggregate case (default 1,4,16,32; 1 is always added)")
    p.add_argument("--client", choices=["lean", "httpx"], default="lean",
                   help="aggregate case's client: a minimal asyncio reader that parses after each response "
                        "(default; on two cores a parsing client takes cycles from the server) or httpx "
                        "parsing every event as an SDK does")
    p.add_argument("--cases", default="greedy,sampled,httpx",
                   help="1-stream vs generate cases to run: greedy, sampled, httpx (comma-separated; 'none' for none)")
    a = p.parse_args()
    if a.streams and 1 not in a.streams:   # one stream is every concurrency's scaling base
        a.streams = [1] + a.streams
    if a.quick:
        a.rounds, a.tokens, a.single_tokens = min(a.rounds, 2), min(a.tokens, 48), min(a.single_tokens, 64)
    env = dict(os.environ, TESSERA_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    for m in a.model:
        bench_model(a, m, env)


if __name__ == "__main__":
    main()
