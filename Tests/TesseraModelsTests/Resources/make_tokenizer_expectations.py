#!/usr/bin/env python3
"""One-off: computes reference token ids for tokenizer_expectations.json with the Hugging Face
`tokenizers` package, from the vocabulary and merges stored in the SmolLM2 GGUF file.

    pip install gguf tokenizers
    python3 make_tokenizer_expectations.py ~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf

The pre-tokenizer is SmolLM2's own (tokenizer.json: Digits(individual) then ByteLevel without
prefix space); special tokens are the GGUF's control tokens."""
import json, sys
from gguf import GGUFReader
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, AddedToken

r = GGUFReader(sys.argv[1])
def strs(key):
    f = r.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
tokens = strs("tokenizer.ggml.tokens")
merges = [tuple(m.split(" ", 1)) for m in strs("tokenizer.ggml.merges")]
tt = r.fields["tokenizer.ggml.token_type"]
types = [int(tt.parts[i][0]) for i in tt.data]
vocab = {t: i for i, t in enumerate(tokens)}
tok = Tokenizer(models.BPE(vocab, merges, unk_token=None, fuse_unk=False, byte_fallback=False))
tok.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Digits(individual_digits=True),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
tok.decoder = decoders.ByteLevel()
tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])

texts = [
    "Hello world",
    "The capital of France is Paris.",
    "  two leading spaces, and trailing   ",
    "Numbers: 12345 and 3.14159, year 2024!",
    "I'm sure they've said it's John's, we'll see; you'd know.",
    "tabs\tand\nnewlines\n\n\nmore\r\nwindows",
    "Ünïcödé: naïve café, Straße, São Paulo, Ελληνικά, русский текст",
    "中文分词测试，日本語のテキスト、한국어 텍스트",
    "emoji 🙂👍🏽 and symbols ©®™ → ∑∫√",
    "code: def f(x):\n    return x**2 + 1  # comment",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "URLs like https://example.com/path?q=1&r=2 and emails a.b@c.org",
    "   ",
    "a",
    "!!!???...,,,",
    "Mixed123Digits456Here 7 8 9",
]
out = []
for t in texts:
    ids = tok.encode(t).ids
    out.append({"text": t, "ids": ids})
open("tokenizer_expectations.json", "w").write(
    "[\n" + ",\n".join(json.dumps(x, ensure_ascii=False) for x in out) + "\n]\n")
print("wrote", len(out), "cases")
