# Attention tiles: FlashAttention-2 prefill (8 heads, d 64/128, 512 and 2048 tokens, causal and
# not) and split decode (one token, 8 query heads over 8 or 2 KV heads, f32 and bf16 KV cache)
# against OpenBLAS attention that materialises the scores, with the SGEMM and read-bandwidth
# limits and the float64 error of the same run.
"$TESSERA_BIN" bench attention --quick
