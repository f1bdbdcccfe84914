# Quantized GEMM: a one-thread timing harness at prefill sizes against the core's VNNI peak.
#   make bench-qgemm [QGEMM_ARGS="128 4096 4096 15"] [QGEMM_FORMAT=Q6_K]
# (on a shared machine, run it under the machine's bench lock, e.g. `flock <lock> make bench-qgemm`)
.PHONY: bench-qgemm

$(BUILD)/bench/qgemm_m128: bench/quant/qgemm_m128.c bench/quant/bench_peak.h bench/bench_clock.h $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) $< -o $@ $(BUILD)/lib/libtessera.a $(LDLIBS)

bench-qgemm: $(BUILD)/bench/qgemm_m128
	$< $(QGEMM_ARGS)

# The output bits of every integer format at several shapes, as hashes: build against two libraries
# and diff, to show a kernel change keeps every bit.   make qgemm-hash
.PHONY: qgemm-hash
$(BUILD)/bench/qgemm_hash: bench/quant/qgemm_hash.c $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) $< -o $@ $(BUILD)/lib/libtessera.a $(LDLIBS)

qgemm-hash: $(BUILD)/bench/qgemm_hash
	$<

# Which vector operations take vpdpbusd's pipes on this core (bounds the float step; docs/quant.md).
#   flock <lock> make bench-vnni-ports
.PHONY: bench-vnni-ports
$(BUILD)/bench/vnni_ports: bench/quant/vnni_ports.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $< -o $@

bench-vnni-ports: $(BUILD)/bench/vnni_ports
	$<

# The projections of a small model's decode step per shape (SmolLM2-135M or Gemma 3 270M), at
# M = 1 and 16 on 2 threads: time, GOP/s, fraction of the int8 floor.
#   flock <lock> make bench-qgemm-step [QSTEP_ARGS="smollm2 2 1,16 15"]
.PHONY: bench-qgemm-step
$(BUILD)/bench/qgemm_step: bench/quant/qgemm_step.c bench/quant/bench_peak.h bench/bench_clock.h $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) $< -o $@ $(BUILD)/lib/libtessera.a $(LDLIBS)

bench-qgemm-step: $(BUILD)/bench/qgemm_step
	$< $(QSTEP_ARGS)
