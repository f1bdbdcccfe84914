# Quantized GEMM: a one-thread timing harness at prefill sizes against the core's VNNI peak.
#   make bench-qgemm [QGEMM_ARGS="128 4096 4096 15"] [QGEMM_FORMAT=Q6_K]
.PHONY: bench-qgemm

$(BUILD)/bench/qgemm_m128: bench/quant/qgemm_m128.c $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) $< -o $@ $(BUILD)/lib/libtessera.a $(LDLIBS)

bench-qgemm: $(BUILD)/bench/qgemm_m128
	flock /work/bench.lock $< $(QGEMM_ARGS) 2>/dev/null || $< $(QGEMM_ARGS)
