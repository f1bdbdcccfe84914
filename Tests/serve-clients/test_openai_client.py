"""`tessera serve` driven by the official OpenAI Python SDK (and httpx/curl for what the SDK
hides): chat, completions, streaming, stop strings, seeds, logprobs, errors, limits."""
import json
import math
import socket
import subprocess
import time

import httpx2 as httpx  # the HTTP client the openai SDK (3.x) itself uses
import openai
import pytest

from conftest import API_KEY
from serveproc import MODEL_ID, Server, tessera_bin

HELLO = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


def test_models_lists_the_served_model(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == [MODEL_ID]


def test_chat_greedy_matches_tessera_generate(client):
    r = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=24, temperature=0)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    text = r.choices[0].message.content
    assert r.usage.completion_tokens <= 24 and r.usage.prompt_tokens > 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # the independent path: `tessera generate --chat` (TesseraModels' Generator, no server)
    out = subprocess.run([tessera_bin(), "generate", "--chat", "--prompt", HELLO[0]["content"], "--max-tokens", "24"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert out.strip() == text.strip()
    assert r.choices[0].finish_reason in ("stop", "length")


def test_streamed_chat_equals_whole_response(client):
    whole = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=20, temperature=0)
    stream = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=20, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    pieces, finish, usage, roles = [], None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        if d.role:
            roles.append(d.role)
        if d.content:
            pieces.append(d.content)
        if chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert roles == ["assistant"]
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens


def test_completions_and_streaming_completions(client):
    r = client.completions.create(model=MODEL_ID, prompt="The quick brown fox", max_tokens=10, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert r.object == "text_completion"
    assert r.usage.completion_tokens == 10 and r.choices[0].finish_reason == "length"
    s = client.completions.create(model=MODEL_ID, prompt="The quick brown fox", max_tokens=10, temperature=0,
                                  extra_body={"ignore_eos": True}, stream=True)
    assert "".join(c.choices[0].text for c in s if c.choices) == r.choices[0].text
    # a prompt as token ids gives the same as its text
    ids = httpx.post(client.base_url.join("/tokenize"), json={"content": "The quick brown fox"},
                     headers={"Authorization": "Bearer " + API_KEY}).json()["tokens"]
    t = client.completions.create(model=MODEL_ID, prompt=ids, max_tokens=10, temperature=0, extra_body={"ignore_eos": True})
    assert t.choices[0].text == r.choices[0].text


def test_stop_strings_cut_the_text(client):
    base = client.completions.create(model=MODEL_ID, prompt="1, 2, 3, 4, 5,", max_tokens=20, temperature=0,
                                     extra_body={"ignore_eos": True}).choices[0].text
    assert len(base) > 8
    stop = base[4:7]
    r = client.completions.create(model=MODEL_ID, prompt="1, 2, 3, 4, 5,", max_tokens=20, temperature=0,
                                  stop=[stop, "never-appears"], extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == base[:base.index(stop)]
    s = client.completions.create(model=MODEL_ID, prompt="1, 2, 3, 4, 5,", max_tokens=20, temperature=0,
                                  stop=stop, extra_body={"ignore_eos": True}, stream=True)
    assert "".join(c.choices[0].text for c in s if c.choices) == r.choices[0].text


def test_seeded_sampling_repeats_and_logprobs(client):
    kw = dict(model=MODEL_ID, messages=[{"role": "user", "content": "Tell me a short story about a cat."}],
              max_tokens=16, temperature=0.9, top_p=0.95, seed=1234, logprobs=True, top_logprobs=3)
    a = client.chat.completions.create(**kw)
    b = client.chat.completions.create(**kw)
    assert a.choices[0].message.content == b.choices[0].message.content
    la = [(t.token, t.logprob) for t in a.choices[0].logprobs.content]
    lb = [(t.token, t.logprob) for t in b.choices[0].logprobs.content]
    assert la == lb and len(la) == a.usage.completion_tokens
    for t in a.choices[0].logprobs.content:
        assert t.logprob <= 0
        tops = [x.logprob for x in t.top_logprobs]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True)
        assert sum(math.exp(x) for x in tops) <= 1 + 1e-9
        assert t.logprob <= tops[0] + 1e-12
    # greedy: the chosen token is the most likely one
    g = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=8, temperature=0,
                                       logprobs=True, top_logprobs=2)
    for t in g.choices[0].logprobs.content:
        assert t.top_logprobs[0].logprob == t.logprob


def test_errors_are_openai_shaped(server, client):
    bad = openai.OpenAI(base_url=server.base + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_ID, messages=HELLO, temperature="hot")
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "wizard", "content": "x"}])
    assert e.value.body["param"] == "messages[0].role"
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL_ID, prompt="word " * 700, max_tokens=4)
    assert e.value.body["code"] == "context_length_exceeded"
    assert "512" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_ID, messages=HELLO, n=2)
    assert e.value.body["param"] == "n"
    # unknown fields are ignored
    r = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=2, temperature=0,
                                       extra_body={"no_such_option": {"x": 1}})
    assert r.usage.completion_tokens <= 2
    h = {"Authorization": "Bearer " + API_KEY}
    raw = httpx.post(server.base + "/v1/chat/completions", content=b"{not json", headers=h)
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    big = httpx.post(server.base + "/v1/completions", content=b'{"prompt": "' + b"a" * (2 << 20) + b'"}', headers=h)
    assert big.status_code == 413 and "error" in big.json()
    nf = httpx.get(server.base + "/v1/nothing-here", headers=h)
    assert nf.status_code == 404
    # a huge max_tokens is capped by the context, and the response says so
    raw = httpx.post(server.base + "/v1/completions", headers=h,
                     json={"model": MODEL_ID, "prompt": "Hi", "max_tokens": 10 ** 9, "temperature": 0, "stop": ["\n"]},
                     timeout=120)
    assert raw.status_code == 200
    body = raw.json()
    assert body["max_tokens_capped"] == int(raw.headers["x-max-tokens-capped"]) == 512 - body["usage"]["prompt_tokens"]
    # nothing from a request names a file: a path-like model is just an unknown model
    raw = httpx.post(server.base + "/v1/completions", headers=h, json={"model": "/etc/passwd", "prompt": "x"})
    assert raw.status_code == 404


def test_raw_sse_framing_with_curl(server):
    body = json.dumps({"model": MODEL_ID, "messages": HELLO, "max_tokens": 6, "temperature": 0, "stream": True})
    out = subprocess.run(["curl", "-sS", "-N", "-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + API_KEY,
                          "-D", "-", "--data", body, server.base + "/v1/chat/completions"],
                         capture_output=True, timeout=120, check=True).stdout.decode()
    head, _, events = out.partition("\r\n\r\n")
    assert "content-type: text/event-stream" in head.lower()
    # SSE comments (": keep-alive", sent while a request waits) are part of the framing too
    frames = [f for f in events.split("\n\n") if not f.startswith(": ")]
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    for f in frames[:-2]:
        assert f.startswith("data: ") and "\n" not in f
        assert json.loads(f[6:])["object"] == "chat.completion.chunk"


def test_tokenize_detokenize_health_metrics(server):
    h = {"Authorization": "Bearer " + API_KEY}
    ids = httpx.post(server.base + "/tokenize", json={"content": "Hello, world!"}, headers=h).json()["tokens"]
    assert ids and all(isinstance(i, int) for i in ids)
    assert httpx.post(server.base + "/detokenize", json={"tokens": ids}, headers=h).json()["content"] == "Hello, world!"
    assert httpx.post(server.base + "/detokenize", json={"tokens": [-1]}, headers=h).status_code == 400
    assert httpx.get(server.base + "/health").json()["status"] == "ok"
    assert server.metric("tessera_requests_total") > 0
    assert server.metric("tessera_generated_tokens_total") > 0
    assert server.metric("tessera_time_to_first_token_seconds_count") > 0
    assert server.metric("tessera_inter_token_seconds_count") > 0
    assert server.metric("tessera_batch_size_count") > 0
    server.metric("tessera_queue_depth")


def read_http_response(sock):
    """Reads one `Connection: close` HTTP response to its end; returns (status, body bytes)."""
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = bytearray(), body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line, 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        body = bytes(out)
    return int(head[9:12]), body


def test_large_body_is_tokenized_off_the_event_loop(server):
    """A large body is parsed and tokenized off the event loop that serves every connection (and
    writes every streamed token): a /health sent while a 400 KiB /tokenize body is being
    tokenized answers first. The ids equal those of the same text sent in parts small enough to
    be tokenized on the loop (GPT-2-style pre-tokens: a space starts a word, so the text splits
    at spaces without changing its tokens)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"]
    text = " ".join(words[(i * 7 + i // 10) % 10] + str(i % 97) for i in range(56000))
    assert len(text) > 400 * 1024
    body = json.dumps({"content": text}).encode()
    h = {"Authorization": "Bearer " + API_KEY}
    big = socket.create_connection((server.host, server.port), timeout=120)
    big.sendall(b"POST /tokenize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (API_KEY.encode(), len(body)) + body)
    time.sleep(0.3)  # the body is in (loopback): the server is tokenizing it
    assert httpx.get(server.base + "/health", timeout=60).status_code == 200
    big.setblocking(False)
    try:
        early = big.recv(1)
    except BlockingIOError:
        early = None
    assert early is None, "/health waited for the large /tokenize to finish"
    big.setblocking(True)
    status, payload = read_http_response(big)
    big.close()
    assert status == 200
    ids = json.loads(payload)["tokens"]
    parts, start = [], 0
    while start < len(text):
        end = text.rfind(" ", start, start + 3000) if start + 3000 < len(text) else len(text)
        parts.append(text[start:end])
        start = end
    assert max(len(json.dumps({"content": p})) for p in parts) < 4096
    small = []
    with httpx.Client(base_url=server.base, headers=h) as c:
        for p in parts:
            r = c.post("/tokenize", json={"content": p})
            assert r.status_code == 200
            small += r.json()["tokens"]
    assert ids == small


def freed_after(server, hung_up, since):
    """Seconds from the client's hang-up (`time.time()` just after it) to the server freeing the
    request's slot or queue place, as the server's clock saw it (its
    `tessera_last_cancel_freed_timestamp_seconds`; one wall clock on one machine): what the
    server took, without the test's own polling, whose HTTP round trips to /metrics alone take a
    large part of a second on a loaded machine. `since`: a time before the request was sent (the
    cancel freed must be this request's)."""
    freed = server.metric("tessera_last_cancel_freed_timestamp_seconds")
    assert freed > since, "no cancel was freed since the request was sent"
    return freed - hung_up


def test_disconnect_cancels_the_sequence(server):
    h = {"Authorization": "Bearer " + API_KEY}
    before = server.metric("tessera_requests_cancelled_total")
    sent = time.time()
    body = {"model": MODEL_ID, "prompt": "Once upon a time", "max_tokens": 400, "temperature": 0, "stream": True,
            "ignore_eos": True}
    with httpx.stream("POST", server.base + "/v1/completions", json=body, headers=h, timeout=60) as r:
        it = r.iter_lines()
        got = 0
        for line in it:
            if line.startswith("data: "):
                got += 1
                if got == 3:
                    break
    # the close is seen at once (the inbound-close watch), and the slot is free within a step
    hung_up = time.time()
    while server.metric("tessera_requests_cancelled_total") < before + 1 and time.time() - hung_up < 20:
        time.sleep(0.02)
    assert server.metric("tessera_requests_cancelled_total") >= before + 1
    assert server.metric("tessera_active_sequences") == 0
    waited = freed_after(server, hung_up, sent)
    assert waited < 0.75, "cancelled only %.2f s after the client hung up" % waited
    # nothing is generated for it any more
    made = server.metric("tessera_generated_tokens_total")
    time.sleep(1.0)
    assert server.metric("tessera_generated_tokens_total") == made


def test_slow_client_is_disconnected(server):
    s = socket.create_connection((server.host, server.port), timeout=15)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")   # and then nothing
    t0 = time.time()
    try:
        data = s.recv(4096)   # the server closes the connection after --read-timeout (2 s)
    except ConnectionResetError:
        data = b""
    assert data == b"" or b"408" in data
    assert time.time() - t0 < 12
    s.close()


# A streamed request holds its slot only while its client holds the connection: the reader of
# r1's lines is kept (a bare `next(r1.iter_lines())` drops the generator, and httpx closes the
# response when its line iterator is collected, so the server rightly cancels r1 and r2 takes
# the slot). With --parallel 1 --queue 1: r1 streams, r2 waits (queue depth 1), r3 is refused.
def test_queue_full_gives_429_with_retry_after():
    s = Server("--parallel", "1", "--ctx", "2048", "--queue", "1")
    try:
        # long enough that the first request still holds the slot when the third arrives
        body = {"model": MODEL_ID, "prompt": "Count:", "max_tokens": 2000, "temperature": 0, "ignore_eos": True,
                "stream": True}
        sent = time.time()
        with httpx.Client(timeout=60) as c:
            with c.stream("POST", s.base + "/v1/completions", json=body) as r1:   # takes the slot
                lines1 = r1.iter_lines()
                next(lines1)
                with c.stream("POST", s.base + "/v1/completions", json=body) as r2:   # waits in the queue
                    assert r2.status_code == 200
                    for _ in range(100):
                        if s.metric("tessera_queue_depth") == 1:
                            break
                        time.sleep(0.05)
                    assert s.metric("tessera_queue_depth") == 1
                    assert s.metric("tessera_active_sequences") == 1
                    r3 = httpx.post(s.base + "/v1/completions", json=body, timeout=30)
                    assert r3.status_code == 429
                    assert int(r3.headers["retry-after"]) >= 1
                    assert r3.json()["error"]["code"] == "queue_full"
                    assert s.metric("tessera_requests_rejected_total") == 1
                    assert s.metric("tessera_requests_cancelled_total") == 0
                # r2 hung up while waiting, when nothing was being written to it: the server sees
                # the connection close at once (not at a later keep-alive write, which is at least
                # 1 s away), and r2 leaves the queue without taking a slot; r1 goes on streaming
                hung_up = time.time()
                while s.metric("tessera_queue_depth") != 0 and time.time() - hung_up < 10:
                    time.sleep(0.02)
                assert s.metric("tessera_queue_depth") == 0
                assert s.metric("tessera_requests_cancelled_total") == 1
                waited = freed_after(s, hung_up, sent)
                assert waited < 0.75, "the queued request was dropped only after %.2f s" % waited
                assert s.metric("tessera_active_sequences") == 1
                chunk = json.loads(next(line for line in lines1 if line.startswith("data: {"))[6:])
                assert chunk["choices"][0]["finish_reason"] is None
    finally:
        code = s.stop()
        assert code == 0, "exit %s: %s" % (code, "".join(s.log[-30:]))
