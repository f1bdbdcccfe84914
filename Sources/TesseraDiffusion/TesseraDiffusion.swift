/// TesseraDiffusion: diffusion samplers and patch-parallel sampling (DistriFusion, PCPP, ASG).
/// Importing it also imports `Tessera`.
@_exported import Tessera
