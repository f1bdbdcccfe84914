import Testing
import Tessera
import TesseraDistributed

// The snippet of Sources/TesseraDistributed/TesseraDistributed.docc, compiled here (it needs
// mpirun to run; the MPI tests run the same calls under mpirun through tessera-mpi).
// scripts/check-doc-snippets checks that it stays the same.

// run under mpirun: each rank clusters its block of rows, together
func clusterAcrossRanks(_ localRows: Matrix<Double>) throws -> Matrix<Double> {
    let world = try MPI.initialize()
    let fit = try DistributedKMeans.fit(localRows, k: 8, communicator: world,
                                        initialization: .sampledKMeansPlusPlus(sampleSize: 10_000))
    try MPI.finalize()
    return fit.centers
}

@Suite("TesseraDistributed DocC snippets")
struct DocSnippetTests {
    @Test func snippetCompiles() {
        let f: (Matrix<Double>) throws -> Matrix<Double> = clusterAcrossRanks
        _ = f
    }
}
