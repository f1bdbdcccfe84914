#!/usr/bin/env bash
# Demo: `tessera serve` on a free loopback port, one streamed chat through the official OpenAI
# Python SDK (pinned in python/requirements-test.txt, installed into build/python-venv), then stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL="$(scripts/fetch-model)"
PY=build/python-venv/bin/python
"$PY" -c "import openai" 2>/dev/null || make -s build/python-venv/.requirements >/dev/null
log="$(mktemp)"
"$TESSERA_BIN" serve --model "$MODEL" --port 0 --parallel 2 --ctx 1024 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do grep -q "listening on" "$log" && break; sleep 0.1; done
base="$(grep '^listening on' "$log" | grep -o 'http://[0-9.]*:[0-9]*')"
echo "--- tessera serve: $(grep '^listening on' "$log")"
echo "--- openai.OpenAI(base_url=\"$base/v1\").chat.completions.create(..., stream=True)"
"$PY" - "$base" <<'PYEOF'
import sys, time
import openai
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused")
model = client.models.list().data[0].id
t0 = time.time()
stream = client.chat.completions.create(
    model=model, stream=True, max_tokens=64, temperature=0, stream_options={"include_usage": True},
    messages=[{"role": "user", "content": "In two sentences, what is a GGUF file?"}])
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
    if chunk.usage:
        u = chunk.usage
print("\n[%d prompt + %d completion tokens in %.2f s]" % (u.prompt_tokens, u.completion_tokens, time.time() - t0))
PYEOF
kill -TERM "$pid"
wait "$pid" && echo "--- server stopped"
