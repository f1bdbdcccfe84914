# MPI-style datatypes: pack 2-D vectors, 3-D halo faces, nested, indexed and struct types with
# the canonical-form kernels, against the naive type-map packer and the STREAM copy limit.
# (OpenMPI's own MPI_Pack and the LD_PRELOAD halo exchange: `make bench-mpi`.)
"$TESSERA_BIN" bench datatype --quick
