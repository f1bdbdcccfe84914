// TesseraDistributed: Tessera's kernels across processes and machines on MPI (OpenMPI).
//
// What lives here:
//   MPI.swift / Communicator.swift   the MPI binding (init with thread level, communicators,
//                                    point-to-point, collectives, errors as TesseraError)
//   MPIDatatype.swift                Tessera Datatypes as committed MPI derived types
//   RingAttention.swift              sequence-parallel attention (K/V around the ring, LSE merge)
//   DistributedKMeans.swift          data-parallel k-means
//   DistributedFD.swift              finite-difference heat / Poisson on a Cartesian split
