# Quantized GEMV/GEMM: q4g128 4096x4096 at M = 1 (cold, vs read bandwidth) and M = 8/64,
# and a SmolLM2-shaped decode step in Q8_0, each against OpenBLAS f32 in the same run.
"$TESSERA_BIN" bench quant --quick
