# Datatype area: the MPI drop-in library (libtessera_mpi.so), its test and benchmarks.
#   make mpi         build libtessera_mpi.so and the MPI programs (needs mpicc)
#   make test-mpi    run an unmodified MPI program with and without LD_PRELOAD; outputs must match
#   make bench-mpi   MPI_Pack vs Tessera per family and halo3d with/without the preload (JSON lines;
#                    run it under flock /work/bench.lock on a shared machine)
MPICC   ?= mpicc
MPIRUN  ?= mpirun --allow-run-as-root --oversubscribe
DT_MPI  := $(BUILD)/mpi

ifneq ($(shell command -v $(firstword $(MPICC)) 2>/dev/null),)
.PHONY: mpi test-mpi bench-mpi

mpi: $(BUILD)/lib/libtessera_mpi.so $(DT_MPI)/mpi_types_check $(DT_MPI)/halo3d $(DT_MPI)/bench_pack

# The preload library carries the Tessera objects it needs (static archive, -fPIC objects).
$(BUILD)/lib/libtessera_mpi.so: interpose/mpi/tessera_mpi.c $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(MPICC) -O2 -g -std=gnu11 -shared -fPIC -fvisibility=hidden -Iinclude -o $@ $< $(BUILD)/lib/libtessera.a $(LDLIBS)

$(DT_MPI)/mpi_types_check: interpose/mpi/mpi_types_check.c
	@mkdir -p $(dir $@)
	$(MPICC) -O2 -g -o $@ $<

$(DT_MPI)/halo3d: interpose/mpi/halo3d.c
	@mkdir -p $(dir $@)
	$(MPICC) -O2 -g -o $@ $<

$(DT_MPI)/bench_pack: interpose/mpi/bench_pack.c $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(MPICC) -O3 -g -std=gnu11 -Iinclude -o $@ $< $(BUILD)/lib/libtessera.a $(LDLIBS)

test-mpi: $(BUILD)/lib/libtessera_mpi.so $(DT_MPI)/mpi_types_check
	$(MPIRUN) -np 2 $(DT_MPI)/mpi_types_check > $(DT_MPI)/check-plain.txt
	$(MPIRUN) -np 2 -x LD_PRELOAD=$(abspath $(BUILD)/lib/libtessera_mpi.so) -x TESSERA_MPI_VERBOSE=1 \
	    $(DT_MPI)/mpi_types_check > $(DT_MPI)/check-preload.txt 2> $(DT_MPI)/check-preload.err
	diff $(DT_MPI)/check-plain.txt $(DT_MPI)/check-preload.txt
	grep -q '^PASSED' $(DT_MPI)/check-preload.txt
	grep -q 'cached [1-9]' $(DT_MPI)/check-preload.err
	grep -q 'sends [1-9]' $(DT_MPI)/check-preload.err
	@cat $(DT_MPI)/check-preload.err
	@echo "test-mpi: identical results with and without libtessera_mpi.so"

bench-mpi: mpi
	$(DT_MPI)/bench_pack $(if $(QUICK),--quick)
	interpose/mpi/bench_halo.sh $(BUILD) $(if $(QUICK),2 128 5,5 256 20)

# `make bench` runs `tessera bench all`, whose datatype area starts with bench_pack's MPI_Pack
# records (Sources/tessera-bench/DatatypeBench.swift runs build/mpi/bench_pack): build it first,
# or that comparison would be skipped.
bench: $(DT_MPI)/bench_pack

EXTRA_TESTS += test-mpi
endif

# `make probe-pack-split`: why hot 1 MiB dense packs stay on one thread (docs/datatype.md, round 9):
# the core-to-core cache-line round trip, reads of lines the other core wrote, and a 16-byte-block
# pack split over the default pool's two workers, timed per worker. No MPI needed. Run it alone
# (flock /work/bench.lock on a shared machine).
.PHONY: probe-pack-split
$(BUILD)/probes/pack_split_probe: interpose/mpi/pack_split_probe.c $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Iinclude -o $@ $< $(BUILD)/lib/libtessera.a $(LDLIBS)

probe-pack-split: $(BUILD)/probes/pack_split_probe
	$<
