/// The benchmark areas of `tessera-bench <area>` (also reached as `tessera bench <area>`).
/// Each area adds one entry here and keeps its code in `<Area>Bench.swift` beside this file.
nonisolated(unsafe) let benchAreas: [(name: String, summary: String, run: (BenchContext) throws -> Void)] = [
    ("limits", "machine limits: STREAM, read bandwidth, SGEMM, vector peaks, pool fork-join vs OpenMP", runLimitsBench),
    ("cluster", "k-medoids (FasterPAM vs kmedoids), distance matrix roofline, k-means vs scikit-learn", runClusterBench),
    ("quant", "quantized GEMV/GEMM (q4g128, GGUF Q4_0/Q4_1/Q8_0) vs OpenBLAS f32, cold/hot, roofline", runQuantBench),
    ("pde", "NS2D step vs FFT floor and NumPy, FFTW plan cost, FD CG/heat vs naive, parallel efficiency, bandwidth", runPDEBench),
    ("stagger", "learned NeuralStagger alone (heat s=2/4, training throughput vs SGEMM, rollout error, sub-task parallelism); also run by pde", runLearnedStaggerBench),
    ("randproj", "random projections (dense, CSR) vs SGEMM and scikit-learn, FastRP vs SciPy and fastrp, SpMM vs read bandwidth", runRandProjBench),
    ("diffusion", "patch-parallel U-Net sampling (sync/DistriFusion/PCPP/ASG) vs unsplit, conv vs SGEMM, Gaussian-field spectrum error", runDiffusionBench),
    ("datatype", "MPI-style datatype pack (vectors, 3-D faces hot and cold, nested, indexed, struct) vs OpenMPI MPI_Pack (bench_pack, built by make mpi) and the naive packer, STREAM copy limit", runDatatypeBench),
    ("attention", "FlashAttention-2 prefill and split decode vs OpenBLAS materialised attention, SGEMM and read-bandwidth limits", runAttentionBench),
    ("distributed", "MPI (mpirun + tessera-mpi): halo exchange packed vs OpenMPI derived type, FD heat strong/weak scaling + model to 1024 ranks, ring attention, k-means", runDistributedBench),
    ("python", "the Python package: call overhead vs the direct C call, KMedoids vs kmedoids, SRP vs scikit-learn, FastRP vs fastrp", runPythonBench),
    ("serve", "tessera serve vs llama-server: aggregate tokens/s at 1-32 streams, TTFT p50/p99, one stream vs tessera generate (SmolLM2, Gemma 3)", runServeBench),
    ("llm", "SmolLM2-135M Q4_1: load, prefill vs SGEMM-equivalent, decode vs read-bandwidth floor, speculative vs plain (llama.cpp peer if installed)", runModelsBench),
]
