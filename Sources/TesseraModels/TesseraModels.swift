/// TesseraModels: GGUF Llama-family models on Tessera's quantized GEMV/GEMM and attention
/// kernels: tokenizer, chat template, streaming generation and lossless speculative decoding.
/// Importing it also imports `Tessera`.
@_exported import Tessera
