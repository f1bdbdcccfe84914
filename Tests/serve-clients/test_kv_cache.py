"""`tessera serve --kv-cache f16|bf16`: a narrow K/V cache keeps every promise of the f32 one —
each request's tokens identical alone and beside others (greedy and seeded), and a greedy chat
identical to `tessera generate --chat` with the same cache type — and bad values are refused
with a message that names the option."""
import asyncio
import subprocess

import httpx2 as httpx  # the HTTP client the openai SDK (3.x) itself uses
import pytest

from serveproc import MODEL_ID, Server, tessera_bin
from test_load import run, spec

HELLO = "What is the capital of France? Answer in one sentence."


@pytest.mark.parametrize("kv", ["f16", "bf16"])
def test_narrow_cache_solo_equality_and_generate(kv):
    s = Server("--parallel", "8", "--ctx", "512", "--queue", "64", "--step-tokens", "64", "--kv-cache", kv)
    try:
        assert "kv cache %s" % kv in s.banner
        async def solos():
            async with httpx.AsyncClient(timeout=600) as client:
                return [await run(client, s.base, spec(k)[1]) for k in range(16)]
        solo = asyncio.run(solos())

        async def together():
            async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=40)) as client:
                order = list(range(32))
                order = order[1::2] + order[::2]   # another arrival order than the solo runs'
                return order, await asyncio.gather(*[run(client, s.base, spec(i)[1]) for i in order])
        order, results = asyncio.run(together())
        for i, res in zip(order, results):
            k = spec(i)[0]
            assert res[:2] == solo[k][:2], "%s: request %d differs from its solo run" % (kv, k)
        # greedy chat: the server's answer is `tessera generate --chat` with the same cache type
        r = httpx.post(s.base + "/v1/chat/completions", timeout=300, json={
            "model": MODEL_ID, "messages": [{"role": "user", "content": HELLO}], "max_tokens": 24, "temperature": 0})
        assert r.status_code == 200, r.text
        text = r.json()["choices"][0]["message"]["content"]
        out = subprocess.run([tessera_bin(), "generate", "--chat", "--prompt", HELLO, "--max-tokens", "24",
                              "--kv-cache", kv], capture_output=True, text=True, timeout=300, check=True).stdout
        assert out.strip() == text.strip()
    finally:
        assert s.stop() == 0, "".join(s.log[-30:])


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["generate", "--prompt", "hi"]])
def test_bad_kv_cache_values_are_refused(command):
    for bad in ["q8_0", "", "f64", "fp16"]:
        r = subprocess.run([tessera_bin(), *command, "--kv-cache", bad], capture_output=True, text=True, timeout=60)
        assert r.returncode == 64, (bad, r.returncode, r.stderr)
        assert "--kv-cache must be f32, f16 or bf16 (got '%s')" % bad in r.stderr, r.stderr
