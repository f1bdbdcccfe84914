#!/usr/bin/env python3
"""llama.cpp peer of `tessera bench llm`: a long-lived process driven over stdin/stdout so the
Swift bench can interleave its runs with ours (A B A B ...).

    python llamacpp_peer.py MODEL.gguf THREADS

Protocol: one JSON object per line in, one per line out.
    {"op": "prefill", "tokens": [...]}          -> {"seconds": s}            (fresh context)
    {"op": "decode", "tokens": [...], "n": 128} -> {"seconds": s, "out": [...]}  (greedy; time of
                                                    the n decode steps only, prefill excluded)
    {"op": "quit"}
At start it prints {"ready": true, "load_seconds": s, "version": "..."}.
"""
import json, sys, time

import llama_cpp
from llama_cpp import Llama


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    t0 = time.perf_counter()
    llm = Llama(model_path=path, n_ctx=2048, n_batch=512, n_ubatch=512, n_threads=threads,
                n_threads_batch=threads, logits_all=False, verbose=False)
    load = time.perf_counter() - t0
    print(json.dumps({"ready": True, "load_seconds": load, "version": llama_cpp.__version__}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "quit":
            break
        toks = cmd.get("tokens", [])
        llm.reset()
        llm._ctx.memory_clear(True) if hasattr(llm._ctx, "memory_clear") else llm._ctx.kv_cache_clear()
        if op == "prefill":
            t = time.perf_counter()
            llm.eval(toks)
            print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)
        elif op == "decode":
            n = int(cmd.get("n", 128))
            llm.eval(toks)
            out = []
            t = time.perf_counter()
            for _ in range(n):
                logits = llm._ctx.get_logits_ith(-1) if False else llm.scores[llm.n_tokens - 1]
                tok = int(logits.argmax())
                out.append(tok)
                llm.eval([tok])
            print(json.dumps({"seconds": time.perf_counter() - t, "out": out}), flush=True)
        else:
            print(json.dumps({"error": "unknown op %r" % op}), flush=True)


if __name__ == "__main__":
    main()
