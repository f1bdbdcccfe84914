"""`tessera tokenize` against tokenizers nobody here wrote, on the vocabularies inside real GGUF files.

* Gemma 3 270M (SentencePiece BPE, `tokenizer.ggml.model = "llama"`, 262k tokens): the
  `sentencepiece` package encodes with a ModelProto built from the GGUF's tokens, scores and
  token types (read with the `gguf` package) — BPE by piece score, byte fallback, `▁` spaces,
  user-defined pieces (Gemma's runs of spaces/newlines/tabs, HTML tags) matched whole.
* SmolLM2 (byte-level BPE): Hugging Face `tokenizers` with the GGUF's vocabulary and merges and
  SmolLM2's pre-tokenizer, and the same vocabulary rewritten (by the `gguf` package) into
  tokenizer-only GGUFs with `tokenizer.ggml.pre = llama-bpe` / `qwen2`, encoded by `tokenizers`
  with the split regexes of Llama 3 and Qwen2.

Control tokens in the text (`<start_of_turn>`, `<|im_start|>`) are split out first, as llama.cpp
and Hugging Face do for special tokens; sentencepiece has no notion of them.
"""
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")
spm_pb2 = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")
import sentencepiece  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def tessera_cli():
    for c in [os.environ.get("TESSERA_BIN"),
              *(ROOT / ".build" / conf / "tessera" for conf in ("release", "debug"))]:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return str(c)
    return shutil.which("tessera")


def fetch_model(*args, cached_name):
    """The model's path: scripts/fetch-model ARGS, else an already cached copy."""
    try:
        run = subprocess.run([str(ROOT / "scripts" / "fetch-model"), *args], capture_output=True, text=True, timeout=1800)
        if run.returncode == 0 and run.stdout.strip():
            path = run.stdout.strip().splitlines()[-1]
            # (an older fetch-model ignores its argument and prints the SmolLM2 path)
            if Path(path).is_file() and Path(path).name == cached_name:
                return path
    except (OSError, subprocess.TimeoutExpired):
        pass
    cached = Path(os.environ.get("TESSERA_MODEL_DIR", Path.home() / ".cache" / "tessera" / "models")) / cached_name
    if cached.is_file():
        return str(cached)
    pytest.fail(f"model {cached_name} could not be fetched (scripts/fetch-model {' '.join(args)})")


@pytest.fixture(scope="module")
def cli():
    c = tessera_cli()
    if c is None:
        pytest.skip("the tessera CLI is not built (swift build; or set TESSERA_BIN)")
    return c


def tessera_encode(cli, model, texts, *extra):
    run = subprocess.run([cli, "tokenize", "--model", model, "--batch", *extra], input=json.dumps(texts),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert len(out) == len(texts)
    return out


def tessera_decode(cli, model, id_lists):
    run = subprocess.run([cli, "tokenize", "--model", model, "--batch", "--decode"], input=json.dumps(id_lists),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def corpus(seed=7):
    """Varied text: prose, whitespace runs, digits, code, markup, many scripts, emoji, rare characters."""
    texts = [
        "Hello world", "The capital of France is Paris.", " leading space", "trailing space ",
        "  two leading spaces, and trailing   ", "a  b   c    d" + " " * 40 + "e", "tabs\tand\t\ttabs\t\t\t\t",
        "new\nline", "\n\n\nthree newlines first", "mixed \n \n\n  \r\n\r\nends\n", "\r\n\r\n",
        "Numbers: 12345 and 3.14159, year 2024! 1,000,000 0x1F 007",
        "I'm sure they've said it's John's, we'll see; you'd know. DON'T SHOUT'S",
        "def f(x):\n    return x ** 2  # square\n\nclass A:\n\tpass\n",
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
        "<table><tr><td>cell</td></tr></table> <b>bold</b> <s>strike</s> <h1>Title</h1>",
        "café naïve résumé Ægir façade", "Straße Größe", "Ελληνικά κείμενα", "Русский текст, ёж.",
        "日本語のテキストです。", "中文文本，测试。", "한국어 텍스트", "العربية نص", "हिन्दी पाठ",
        "ภาษาไทย", "emoji 😀🎉👍🏽 and 👩‍👩‍👧‍👦 family, flags 🇫🇷🇯🇵", "combining e\u0301 vs é",
        "zero\u200bwidth\u200djoiner", "math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√∞ ≤ ≥", "private \U0010fffd\ue000 use",
        "controls \x01\x02\x7f end", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
        "URL https://example.com/path?q=1&r=two#frag", "email: someone@example.org",
        "   ", " ", "\t", "x", "ÿ", "🙂", "a" * 300, "ab " * 120,
    ]
    rng = random.Random(seed)
    pools = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x4E00, 0x4FFF),
             (0x1F300, 0x1F64F), (0x9, 0xD), (0x3040, 0x30FF), (0x10000, 0x1000F)]
    for _ in range(80):
        chars = []
        for _ in range(rng.randint(1, 40)):
            lo, hi = rng.choice(pools)
            c = rng.randint(lo, hi)
            if not 0xD800 <= c <= 0xDFFF:
                chars.append(chr(c))
        texts.append("".join(chars))
    return texts


def gguf_strings(reader, key):
    return list(reader.fields[key].contents())


def split_control(text, controls):
    """Text pieces and control-token ids: longest token first, its occurrences left to right."""
    pieces = [(text, None)]
    for tok, tid in sorted(controls.items(), key=lambda kv: (-len(kv[0]), kv[1])):
        out = []
        for s, t in pieces:
            if t is not None or tok not in s:
                out.append((s, t))
                continue
            parts = s.split(tok)
            for k, p in enumerate(parts):
                if p:
                    out.append((p, None))
                if k + 1 < len(parts):
                    out.append((tok, tid))
        pieces = out
    return pieces


# --- Gemma 3: SentencePiece BPE -------------------------------------------------------------

@pytest.fixture(scope="module")
def gemma():
    path = fetch_model("gemma3-270m", cached_name="gemma-3-270m-q4_k_m.gguf")
    r = gguf.GGUFReader(path)
    tokens = gguf_strings(r, "tokenizer.ggml.tokens")
    scores = list(r.fields["tokenizer.ggml.scores"].contents())
    types = list(r.fields["tokenizer.ggml.token_type"].contents())
    meta = {k: r.fields[k].contents() for k in ("tokenizer.ggml.model", "tokenizer.ggml.unknown_token_id",
                                                  "tokenizer.ggml.bos_token_id", "tokenizer.ggml.add_bos_token",
                                                  "tokenizer.ggml.add_space_prefix")}
    assert meta["tokenizer.ggml.model"] == "llama"
    unk = meta["tokenizer.ggml.unknown_token_id"]
    m = spm_pb2.ModelProto()
    m.trainer_spec.model_type = spm_pb2.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.vocab_size = len(tokens)
    m.trainer_spec.unk_id = unk
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = bool(meta["tokenizer.ggml.add_space_prefix"])
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    P = spm_pb2.ModelProto.SentencePiece
    kinds = {1: P.NORMAL, 2: P.UNKNOWN, 3: P.CONTROL, 4: P.USER_DEFINED, 5: P.UNUSED, 6: P.BYTE}
    for i, (t, s, ty) in enumerate(zip(tokens, scores, types)):
        p = m.pieces.add()
        # user-defined pieces are matched on the escaped text, where a space is already ▁
        p.piece = t.replace(" ", "\u2581") if ty == 4 else t
        p.score = float(s)
        p.type = P.UNKNOWN if i == unk else kinds[int(ty)]
    sp = sentencepiece.SentencePieceProcessor(model_proto=m.SerializeToString())
    assert sp.get_piece_size() == len(tokens)
    controls = {t: i for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3 and i != unk}
    return dict(path=path, sp=sp, tokens=tokens, controls=controls, bos=meta["tokenizer.ggml.bos_token_id"],
                add_bos=bool(meta["tokenizer.ggml.add_bos_token"]))


def gemma_reference(g, text, parse_special=True):
    ids = [g["bos"]] if g["add_bos"] else []
    pieces = split_control(text, g["controls"]) if parse_special else [(text, None)]
    for s, t in pieces:
        ids += [t] if t is not None else g["sp"].encode(s)
    return ids


def test_gemma_sentencepiece_matches_oracle(cli, gemma):
    texts = corpus()
    got = tessera_encode(cli, gemma["path"], texts)
    bad = [(t, g, gemma_reference(gemma, t)) for t, g in zip(texts, got) if g != gemma_reference(gemma, t)]
    assert not bad, f"{len(bad)} of {len(texts)} differ; first: {bad[0]!r}"
    # the corpus exercises byte fallback, user-defined pieces and merges across the vocabulary
    ids = {i for g in got for i in g}
    assert any(gemma["tokens"][i].startswith("<0x") for i in ids)
    assert any(gemma["tokens"][i] in ("\n\n", "  ", "<table>", "\t\t") for i in ids)


def test_gemma_special_tokens_and_round_trip(cli, gemma):
    chat = ["<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
            "text<end_of_turn>more<eos> and <bos>", "<start_of_turn><start_of_turn>x<end_of_turn>"]
    got = tessera_encode(cli, gemma["path"], chat)
    assert got == [gemma_reference(gemma, t) for t in chat]
    assert gemma["controls"]["<start_of_turn>"] in got[0]
    # without special parsing the control-token texts are ordinary text
    plain = tessera_encode(cli, gemma["path"], chat, "--no-parse-special")
    assert plain == [gemma_reference(gemma, t, parse_special=False) for t in chat]
    assert gemma["controls"]["<start_of_turn>"] not in plain[0]
    # decoding gives the text back (sentencepiece agrees)
    texts = corpus(seed=8)
    ids = tessera_encode(cli, gemma["path"], texts, "--no-bos")
    assert tessera_decode(cli, gemma["path"], ids) == texts
    assert [gemma["sp"].decode(i) for i in ids] == texts


# --- byte-level BPE: SmolLM2's vocabulary under three pre-tokenizers ---------------------------

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")


@pytest.fixture(scope="module")
def smollm(tmp_path_factory):
    path = fetch_model(cached_name="SmolLM2-135M-Instruct.Q4_1.gguf")
    r = gguf.GGUFReader(path)
    tokens = gguf_strings(r, "tokenizer.ggml.tokens")
    merges = gguf_strings(r, "tokenizer.ggml.merges")
    types = [int(t) for t in r.fields["tokenizer.ggml.token_type"].contents()]
    files = {"smollm": path}
    for pre in ("llama-bpe", "qwen2"):
        out = tmp_path_factory.mktemp("tok") / f"{pre}.gguf"
        w = gguf.GGUFWriter(str(out), "llama")
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_add_bos_token(False)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        files[pre] = str(out)
    return dict(files=files, tokens=tokens, merges=merges, types=types)


def hf_byte_level(s, pre):
    vocab = {t: i for i, t in enumerate(s["tokens"])}
    tok = Tokenizer(models.BPE(vocab, [tuple(m.split(" ", 1)) for m in s["merges"]], fuse_unk=False, byte_fallback=False))
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        regex = LLAMA3_SPLIT if pre == "llama-bpe" else QWEN2_SPLIT
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), behavior="isolated"),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(s["tokens"], s["types"]) if ty == 3])
    return tok


def long_words():
    """Pre-tokens far over 48 bytes, which take the heap merge (`BytePairMerge`)."""
    rng = random.Random(7)
    return ["a" * 5000, "".join(rng.choice("ab") for _ in range(2000)),
            "".join(rng.choice("etaoinshrdlu") for _ in range(3000)),
            "".join(rng.choice("中文字漢") for _ in range(400)), "!?" * 300, " " * 700 + "x",
            "Supercalifragilisticexpialidocious" * 40]


@pytest.mark.parametrize("pre", ["smollm", "llama-bpe", "qwen2"])
def test_byte_level_bpe_matches_tokenizers(cli, smollm, pre):
    texts = corpus() + long_words() + ["<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"]
    ref = hf_byte_level(smollm, pre)
    got = tessera_encode(cli, smollm["files"][pre], texts)
    want = [ref.encode(t, add_special_tokens=False).ids for t in texts]
    bad = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
    assert not bad, f"{pre}: {len(bad)} of {len(texts)} differ; first: {bad[0]!r}"


def test_unknown_tokenizer_model_is_refused(cli, tmp_path):
    out = tmp_path / "bad.gguf"
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_tokenizer_model("wordpiece-xyz")
    w.add_token_list(["a", "b"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    run = subprocess.run([cli, "tokenize", "--model", str(out), "--text", "ab"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "wordpiece-xyz" in run.stderr
