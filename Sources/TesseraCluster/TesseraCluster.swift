/// TesseraCluster: k-medoids (PAM family, CLARA, CLARANS), k-means, Gaussian mixtures and PPP
/// on Tessera's thread pool. Importing it also imports `Tessera` (Matrix, ThreadPool, TesseraError).
@_exported import Tessera
