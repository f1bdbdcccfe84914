"""`tessera quantize` output read back by the `gguf` package (an oracle nobody here wrote): the
file parses, metadata is the source's (but `general.file_type`), kept tensors are byte-identical,
and every requantized tensor, dequantized by `gguf.quants`, lies within the format's rounding
bound of the source tensor dequantized the same way."""
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as Q  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

from test_tokenizer_oracle import cli, fetch_model  # noqa: E402,F401  (cli is a fixture)

# per block of 32: the largest error of one weight, in units of the block's scale d (ggml's
# rounding: Q8_0 d = amax/127, |err| <= d/2; Q4_0 d = max/-8, the top value clamps: |err| <= |d|),
# plus the fp16 rounding of d times the largest code
BOUND = {Q.Q8_0: (127.0, 0.5 + 127 * 2.0 ** -11), Q.Q4_0: (8.0, 1.0 + 8 * 2.0 ** -11)}


def fields(reader):
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


@pytest.mark.parametrize("typ,qtype", [("q8_0", Q.Q8_0), ("q4_0", Q.Q4_0), ("Q4_K_M", None)])
def test_requantized_model_reads_back(cli, tmp_path, typ, qtype):  # noqa: F811
    src = fetch_model(cached_name="SmolLM2-135M-Instruct.Q4_1.gguf")
    out = tmp_path / f"smollm2-{typ}.gguf"
    run = subprocess.run([cli, "quantize", src, str(out), "--type", typ], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    a, b = gguf.GGUFReader(src), gguf.GGUFReader(str(out))
    fa, fb = fields(a), fields(b)
    assert fb.pop("general.file_type") == {"q8_0": 7, "q4_0": 2, "Q4_K_M": 15}[typ]
    fa.pop("general.file_type", None)
    assert fa == fb
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    requantized = 0
    for ta, tb in zip(a.tensors, b.tensors):
        assert list(ta.shape) == list(tb.shape), ta.name
        if tb.tensor_type == ta.tensor_type:
            assert np.array_equal(np.asarray(ta.data).view(np.uint8), np.asarray(tb.data).view(np.uint8)), ta.name
            continue
        assert len(ta.shape) >= 2, ta.name
        if qtype is None:
            # the K mix: 4-6-bit blocks of several kinds; each tensor within 4-bit rounding noise
            assert tb.tensor_type in (Q.Q4_K, Q.Q5_0, Q.Q6_K, Q.Q8_0), (ta.name, tb.tensor_type)
            x = dequantize(np.asarray(ta.data), ta.tensor_type).astype(np.float64)
            y = dequantize(np.asarray(tb.data), tb.tensor_type).astype(np.float64)
            assert np.sqrt(np.mean((x - y) ** 2)) <= 0.15 * np.sqrt(np.mean(x ** 2)), ta.name
            requantized += 1
            continue
        assert tb.tensor_type == qtype, (ta.name, tb.tensor_type)
        x = dequantize(np.asarray(ta.data), ta.tensor_type).reshape(-1, 32).astype(np.float64)
        y = dequantize(np.asarray(tb.data), tb.tensor_type).reshape(-1, 32).astype(np.float64)
        codes, slack = BOUND[qtype]
        d = np.abs(x).max(axis=1, keepdims=True) / codes
        err = np.abs(x - y)
        assert np.all(err <= d * slack + 1e-7), f"{ta.name}: worst {np.max(err / np.maximum(d, 1e-30)):.3f} d"
        # and the rounding is real rounding, not a constant offset: errors average well below the bound
        assert err.mean() <= 0.5 * (d * slack).mean(), ta.name
        requantized += 1
    assert requantized >= 200   # every projection of the 30 layers


def test_quantize_refuses_bad_input(cli, tmp_path):  # noqa: F811
    notgguf = tmp_path / "x.gguf"
    notgguf.write_bytes(b"not a model at all, just some text that is long enough " * 4)
    src = fetch_model(cached_name="SmolLM2-135M-Instruct.Q4_1.gguf")
    cases = [([str(notgguf), str(tmp_path / "o.gguf"), "--type", "q8_0"], "not a GGUF file"),
             ([src, str(tmp_path / "o.gguf"), "--type", "q9_9"], "unknown --type 'q9_9'"),
             ([src, str(tmp_path / "o.gguf"), "--type", "q8_1"], "no quantizer")]
    for args, message in cases:
        run = subprocess.run([cli, "quantize", *args], capture_output=True, text=True, timeout=300)
        assert run.returncode != 0 and message in run.stderr, (args, run.stderr)
        assert not (tmp_path / "o.gguf").exists()
