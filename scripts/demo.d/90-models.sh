#!/usr/bin/env bash
# Demo: a short chat answer from SmolLM2-135M-Instruct (fetched on first use), plain and with
# lossless prompt-lookup speculative decoding.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL="$(scripts/fetch-model)"
echo "--- tessera generate --chat (greedy)"
"$TESSERA_BIN" generate --model "$MODEL" --chat --max-tokens 48 \
    --prompt "In two sentences, why is the sky blue?"
echo "--- tessera generate --chat --speculative (same text, fewer forward passes)"
"$TESSERA_BIN" generate --model "$MODEL" --chat --max-tokens 64 --speculative \
    --prompt "Repeat this sentence exactly: The quick brown fox jumps over the lazy dog near the river bank."
