/// TesseraPDE: FFTW spectral solvers, finite-difference solvers on decomposed grids, and
/// NeuralStagger space-time decomposition. Importing it also imports `Tessera`.
@_exported import Tessera
