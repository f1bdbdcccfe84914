# Very sparse projection of a CSR input on the slot path (docs/randproj.md): time and output hash.
#   flock <lock> make bench-rp-csr [RP_CSR_ARGS="2 15"]
# Build the driver against another libtessera.a to compare two versions (the hashes must match).
.PHONY: bench-rp-csr
$(BUILD)/bench/csr_slots: bench/randproj/csr_slots.c bench/bench_clock.h $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) $< -o $@ $(BUILD)/lib/libtessera.a $(LDLIBS)

bench-rp-csr: $(BUILD)/bench/csr_slots
	$< $(RP_CSR_ARGS)
