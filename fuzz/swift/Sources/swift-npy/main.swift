// Fuzzes the .npy reader: NPYArray(npyData:). An accepted array must be self-consistent
// (element count, byte count), convert to doubles, and survive encoded() -> npyData
// unchanged. Hostile headers must give TesseraError, never a trap or a huge allocation.
import FuzzSupport
import Tessera

runFuzzer(makeSeeds: { dir in
    try writeSeed(dir, "f64-2x3", try NPYArray(shape: [2, 3], elements: [1.0, -2.5, 3, 4, 5, 6.25]).encoded())
    try writeSeed(dir, "f32-vector", try NPYArray(shape: [4], elements: [Float(1), 2, 3, 4]).encoded())
    try writeSeed(dir, "i32-scalar", try NPYArray(shape: [], elements: [Int32(7)]).encoded())
    try writeSeed(dir, "u8-empty", try NPYArray(shape: [0, 3], elements: [UInt8]()).encoded())
    try writeSeed(dir, "i64-2x2x2", try NPYArray(shape: [2, 2, 2], elements: (0..<8).map { Int64($0) }).encoded())
    // by hand: big-endian Fortran-order int16, and a version 2 header
    func npy(_ header: String, _ payload: [UInt8], version: UInt8 = 1) -> [UInt8] {
        let pre = version == 1 ? 10 : 12
        var h = header
        while (pre + h.utf8.count + 1) % 16 != 0 { h += " " }
        h += "\n"
        let n = h.utf8.count
        let len: [UInt8] = version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8), 0, 0]
        return [0x93] + Array("NUMPY".utf8) + [version, 0] + len + Array(h.utf8) + payload
    }
    try writeSeed(dir, "i16-be-fortran", npy("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }",
                                             [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6]))
    try writeSeed(dir, "v2-u2", npy("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", [1, 0, 2, 0, 3, 0], version: 2))
    // hostile: a shape whose byte count overflows, and a shape near 2^60
    try writeSeed(dir, "shape-overflow", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", []))
    try writeSeed(dir, "shape-2^60", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1152921504606846972, 2), }",
                                         [UInt8](repeating: 0, count: 64)))
}) { data in
    let input = [UInt8](data)
    guard let a = try? NPYArray(npyData: input) else { return }
    let count = a.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
    fuzzCheck(a.shape.allSatisfy { $0 >= 0 } && a.count == count, "shape \(a.shape) but count \(a.count)")
    fuzzCheck(a.bytes.count == a.count * a.scalarType.size,
              "\(a.bytes.count) bytes for \(a.count) elements of \(a.scalarType)")
    fuzzCheck(a.doubles().count == a.count, "doubles() length")
    let again = try? NPYArray(npyData: a.encoded())
    fuzzCheck(again == a, "encoded() does not read back as the same array (shape \(a.shape), \(a.scalarType))")
}
