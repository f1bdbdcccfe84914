internal import CTessera

/// An MPI-style derived datatype: a description of non-contiguous bytes (a halo face, a
/// sub-block, the fields of records) that can be packed into a contiguous buffer and
/// unpacked back at memory speed (see `include/tessera/datatype.h` and `docs/datatype.md`).
///
/// Types are built from primitives with the static constructors, then committed (which
/// computes the canonical strided-block or segment-list form). `pack` and `unpack` commit
/// on first use. A `Datatype` is immutable once committed and safe to share between threads.
///
///     let face = try Datatype.face(of: [256, 256, 256], axis: 0, start: 1)   // committed
///     let bytes = try face.pack(grid)          // grid: Tensor<Double> of shape [256, 256, 256]
public final class Datatype: @unchecked Sendable, CustomStringConvertible {
    /// Predefined element types.
    public enum Primitive: Sendable, CaseIterable {
        /// Bytes, characters and signed and unsigned integers of 8, 16, 32 and 64 bits.
        case byte, char, int8, int16, int32, int64, uint8, uint16, uint32, uint64
        /// 32- and 64-bit floats, complex pairs of them, and a one-byte boolean.
        case float, double, complexFloat, complexDouble, bool

        var cValue: tsr_named_type {
            switch self {
            case .byte: return TSR_TYPE_BYTE
            case .char: return TSR_TYPE_CHAR
            case .int8: return TSR_TYPE_INT8
            case .int16: return TSR_TYPE_INT16
            case .int32: return TSR_TYPE_INT32
            case .int64: return TSR_TYPE_INT64
            case .uint8: return TSR_TYPE_UINT8
            case .uint16: return TSR_TYPE_UINT16
            case .uint32: return TSR_TYPE_UINT32
            case .uint64: return TSR_TYPE_UINT64
            case .float: return TSR_TYPE_FLOAT
            case .double: return TSR_TYPE_DOUBLE
            case .complexFloat: return TSR_TYPE_COMPLEX_FLOAT
            case .complexDouble: return TSR_TYPE_COMPLEX_DOUBLE
            case .bool: return TSR_TYPE_BOOL
            }
        }
    }

    /// Array order for `subarray`: row-major (C, last index fastest) or column-major (Fortran).
    public enum Order: Sendable {
        /// C order (last index fastest) and Fortran order (first index fastest).
        case rowMajor, columnMajor
    }

    /// One block of `structure`: `blockLength` copies of `type` at `byteOffset`.
    public struct Field: Sendable {
        /// Copies of `type` in the block.
        public var blockLength: Int
        /// Offset of the block from the start of the structure, in bytes.
        public var byteOffset: Int
        /// The type of each element of the block.
        public var type: Datatype
        /// A block of `blockLength` copies of `type` at `byteOffset` bytes.
        public init(_ type: Datatype, count blockLength: Int = 1, at byteOffset: Int) {
            self.blockLength = blockLength
            self.byteOffset = byteOffset
            self.type = type
        }
    }

    /// The canonical form of one element, as computed by `commit`.
    public struct Layout: Sendable, Equatable {
        /// Nothing to pack; evenly strided dense blocks; a list of segments; anything else.
        public enum Kind: Sendable, Equatable { case empty, strided, segments, general }
        /// Which canonical form the element has.
        public var kind: Kind
        /// Byte offset of the first byte packed.
        public var start: Int
        /// `.strided`: bytes of each dense block.
        public var blockBytes: Int
        /// Streams (count, byte stride), outer first.
        public var dimensions: [(count: Int, stride: Int)] {
            zip(counts, strides).map { ($0, $1) }
        }
        /// `.strided`: the number of blocks in each stream, outer first.
        public var counts: [Int]
        /// `.strided`: the byte stride of each stream, outer first.
        public var strides: [Int]
        /// Contiguous segments one element packs into.
        public var segmentCount: Int
    }

    let handle: OpaquePointer

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { _ = tsr_datatype_destroy(handle) }

    private static func make(_ body: (UnsafeMutablePointer<OpaquePointer?>) -> tsr_status) throws(TesseraError) -> Datatype {
        var out: OpaquePointer?
        try check(body(&out))
        guard let out else { throw .internalError("datatype constructor returned no handle") }
        return Datatype(handle: out)
    }

    // MARK: constructors

    /// A predefined type (never fails: named types are static in the C library).
    public static func primitive(_ p: Primitive) -> Datatype {
        var out: OpaquePointer?
        _ = tsr_datatype_named(p.cValue, &out)
        return Datatype(handle: out!)
    }

    /// One byte.
    public static let byte = primitive(.byte)
    /// A 32-bit signed integer.
    public static let int32 = primitive(.int32)
    /// A 64-bit signed integer.
    public static let int64 = primitive(.int64)
    /// A 32-bit float.
    public static let float = primitive(.float)
    /// A 64-bit float.
    public static let double = primitive(.double)

    /// The primitive matching a Swift element type (Float, Double, Int8 ... UInt64, Int).
    public static func element<E: TensorElement>(_: E.Type) -> Datatype {
        switch E.self {
        case is Float.Type: return primitive(.float)
        case is Double.Type: return primitive(.double)
        case is Int8.Type: return primitive(.int8)
        case is UInt8.Type: return primitive(.uint8)
        case is Int16.Type: return primitive(.int16)
        case is UInt16.Type: return primitive(.uint16)
        case is Int32.Type: return primitive(.int32)
        case is UInt32.Type: return primitive(.uint32)
        case is Int64.Type, is Int.Type: return primitive(.int64)
        case is UInt64.Type: return primitive(.uint64)
        default:
            // any other bitwise-copyable element: its bytes
            return (try? contiguous(MemoryLayout<E>.stride, of: .byte)) ?? primitive(.byte)
        }
    }

    /// `count` consecutive copies of `old`.
    public static func contiguous(_ count: Int, of old: Datatype) throws(TesseraError) -> Datatype {
        try make { tsr_datatype_contiguous(Int64(count), old.handle, $0) }
    }

    /// `count` blocks of `blockLength` olds; block i starts `i * stride` olds after block 0.
    public static func vector(count: Int, blockLength: Int, stride: Int, of old: Datatype) throws(TesseraError) -> Datatype {
        try make { tsr_datatype_vector(Int64(count), Int64(blockLength), Int64(stride), old.handle, $0) }
    }

    /// Like `vector`, with the stride in bytes (may be negative).
    public static func hvector(count: Int, blockLength: Int, byteStride: Int, of old: Datatype) throws(TesseraError) -> Datatype {
        try make { tsr_datatype_hvector(Int64(count), Int64(blockLength), Int64(byteStride), old.handle, $0) }
    }

    /// Blocks of `blockLengths[i]` olds at `displacements[i]` olds.
    public static func indexed(blockLengths: [Int], displacements: [Int], of old: Datatype) throws(TesseraError) -> Datatype {
        guard blockLengths.count == displacements.count else {
            throw .invalidArgument("Datatype.indexed: \(blockLengths.count) block lengths but \(displacements.count) displacements")
        }
        let bl = blockLengths.map(Int64.init), d = displacements.map(Int64.init)
        return try make { out in tsr_datatype_indexed(Int64(bl.count), bl, d, old.handle, out) }
    }

    /// Blocks of `blockLengths[i]` olds at `byteDisplacements[i]` bytes.
    public static func hindexed(blockLengths: [Int], byteDisplacements: [Int], of old: Datatype) throws(TesseraError) -> Datatype {
        guard blockLengths.count == byteDisplacements.count else {
            throw .invalidArgument("Datatype.hindexed: \(blockLengths.count) block lengths but \(byteDisplacements.count) displacements")
        }
        let bl = blockLengths.map(Int64.init), d = byteDisplacements.map(Int64.init)
        return try make { out in tsr_datatype_hindexed(Int64(bl.count), bl, d, old.handle, out) }
    }

    /// Blocks of `blockLength` olds at `displacements[i]` olds.
    public static func indexedBlock(blockLength: Int, displacements: [Int], of old: Datatype) throws(TesseraError) -> Datatype {
        let d = displacements.map(Int64.init)
        return try make { out in tsr_datatype_indexed_block(Int64(d.count), Int64(blockLength), d, old.handle, out) }
    }

    /// Blocks of `blockLength` olds at `byteDisplacements[i]` bytes.
    public static func hindexedBlock(blockLength: Int, byteDisplacements: [Int], of old: Datatype) throws(TesseraError) -> Datatype {
        let d = byteDisplacements.map(Int64.init)
        return try make { out in tsr_datatype_hindexed_block(Int64(d.count), Int64(blockLength), d, old.handle, out) }
    }

    /// A record: each field's blocks at its byte offset (MPI_Type_create_struct). The extent
    /// has no padding added; use `resized` to give it the size of the Swift/C struct.
    public static func structure(_ fields: [Field]) throws(TesseraError) -> Datatype {
        let bl = fields.map { Int64($0.blockLength) }, d = fields.map { Int64($0.byteOffset) }
        let types: [OpaquePointer?] = fields.map { $0.type.handle }
        let result = try make { out in tsr_datatype_struct(Int64(fields.count), bl, d, types, out) }
        withExtendedLifetime(fields) {}
        return result
    }

    /// A sub-block of an n-dimensional array of `sizes` elements of `old`: `subsizes[i]`
    /// elements from `starts[i]` in dimension i. The extent is the whole array's.
    public static func subarray(sizes: [Int], subsizes: [Int], starts: [Int], order: Order = .rowMajor,
                                of old: Datatype = .double) throws(TesseraError) -> Datatype {
        guard sizes.count == subsizes.count, sizes.count == starts.count else {
            throw .invalidArgument("Datatype.subarray: sizes, subsizes and starts have \(sizes.count), \(subsizes.count), \(starts.count) entries")
        }
        guard sizes.count >= 1, sizes.count <= 32 else {
            throw .invalidArgument("Datatype.subarray: 1...32 dimensions (got \(sizes.count))")
        }
        let s = sizes.map(Int64.init), u = subsizes.map(Int64.init), o = starts.map(Int64.init)
        let ord = order == .rowMajor ? TSR_ORDER_C : TSR_ORDER_FORTRAN
        return try make { out in tsr_datatype_subarray(Int32(s.count), s, u, o, ord, old.handle, out) }
    }

    /// A committed halo face (or slab) of a row-major grid of `sizes` elements: `width`
    /// layers from index `start` along `axis`, the full extent along every other axis.
    /// For a ghost-cell exchange with halo width h on an axis of n cells (ghosts included),
    /// the faces to send are `start: h` and `start: n - 2h`; to receive, `0` and `n - h`.
    public static func face(of sizes: [Int], axis: Int, start: Int, width: Int = 1,
                            element: Datatype = .double) throws(TesseraError) -> Datatype {
        guard axis >= 0, axis < sizes.count else {
            throw .invalidArgument("Datatype.face: axis \(axis) is outside 0..<\(sizes.count)")
        }
        var sub = sizes, st = [Int](repeating: 0, count: sizes.count)
        sub[axis] = width
        st[axis] = start
        return try subarray(sizes: sizes, subsizes: sub, starts: st, order: .rowMajor, of: element).commit()
    }

    /// This type with another lower bound and extent (bytes).
    public func resized(lowerBound: Int, extent: Int) throws(TesseraError) -> Datatype {
        try Datatype.make { tsr_datatype_resized(handle, Int64(lowerBound), Int64(extent), $0) }
    }

    /// A separate handle for the same type.
    public func duplicate() throws(TesseraError) -> Datatype {
        try Datatype.make { tsr_datatype_dup(handle, $0) }
    }

    // MARK: commit and queries

    /// Computes the canonical form; returns self so construction can chain.
    @discardableResult
    public func commit() throws(TesseraError) -> Datatype {
        try check(tsr_datatype_commit(handle))
        return self
    }

    /// Whether `commit()` has run (packing needs a committed type).
    public var isCommitted: Bool {
        var c: Int32 = 0
        _ = tsr_datatype_is_committed(handle, &c)
        return c != 0
    }

    /// Bytes of data in one element.
    public var size: Int { var v: Int64 = 0; _ = tsr_datatype_size(handle, &v); return Int(v) }
    /// Extent in bytes (distance between consecutive elements).
    public var extent: Int { var lb: Int64 = 0, e: Int64 = 0; _ = tsr_datatype_extent(handle, &lb, &e); return Int(e) }
    /// Lower bound in bytes.
    public var lowerBound: Int { var lb: Int64 = 0, e: Int64 = 0; _ = tsr_datatype_extent(handle, &lb, &e); return Int(lb) }
    /// Offset of the first byte touched.
    public var trueLowerBound: Int { var lb: Int64 = 0, e: Int64 = 0; _ = tsr_datatype_true_extent(handle, &lb, &e); return Int(lb) }
    /// Span of the bytes touched.
    public var trueExtent: Int { var lb: Int64 = 0, e: Int64 = 0; _ = tsr_datatype_true_extent(handle, &lb, &e); return Int(e) }

    /// The canonical form (commits first).
    public func layout() throws(TesseraError) -> Layout {
        try commit()
        var info = tsr_canon_info()
        info.size = UInt32(MemoryLayout<tsr_canon_info>.size)
        try check(tsr_datatype_canon_info_get(handle, &info))
        let kind: Layout.Kind
        switch info.kind {
        case TSR_CANON_EMPTY: kind = .empty
        case TSR_CANON_STRIDED: kind = .strided
        case TSR_CANON_SEGMENTS: kind = .segments
        default: kind = .general
        }
        let n = min(Int(info.ndims), Int(TSR_CANON_MAX_DIMS))
        let counts = withUnsafeBytes(of: info.counts) { Array($0.bindMemory(to: Int64.self).prefix(n)).map(Int.init) }
        let strides = withUnsafeBytes(of: info.strides) { Array($0.bindMemory(to: Int64.self).prefix(n)).map(Int.init) }
        return Layout(kind: kind, start: Int(info.start), blockBytes: Int(info.block_bytes), counts: counts,
                      strides: strides, segmentCount: Int(info.n_segments))
    }

    /// True if both types pack the same bytes in the same order with the same extent.
    public func hasSameLayout(as other: Datatype) throws(TesseraError) -> Bool {
        try commit()
        try other.commit()
        var eq: Int32 = 0
        try check(tsr_datatype_has_same_layout(handle, other.handle, &eq))
        return eq != 0
    }

    /// The canonical form and the constructor tree, readable.
    public var description: String {
        var need = 0
        _ = tsr_datatype_describe(handle, nil, 0, &need)
        var buf = [UInt8](repeating: 0, count: need + 1)
        buf.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) {
                _ = tsr_datatype_describe(handle, $0, b.count, nil)
            }
        }
        return String(decoding: buf.prefix(need), as: UTF8.self)
    }

    /// Bytes `pack` writes for `count` elements.
    public func packedSize(count: Int = 1) throws(TesseraError) -> Int {
        var v: Int64 = 0
        try check(tsr_datatype_pack_size(Int64(count), handle, &v))
        return Int(v)
    }

    // MARK: pack / unpack on raw buffers

    /// Checks that `count` elements at offset 0 stay inside a buffer of `bytes` bytes.
    private func checkCovers(bytes: Int, count: Int, _ what: String) throws(TesseraError) {
        guard count >= 0 else { throw .invalidArgument("Datatype.\(what): count must be >= 0 (got \(count))") }
        if count == 0 || size == 0 { return }
        let (span, o1) = (count - 1).multipliedReportingOverflow(by: extent)
        guard !o1 else { throw .outOfRange("Datatype.\(what): \(count) elements of extent \(extent) overflow") }
        let lo = trueLowerBound + min(0, span), hi = trueLowerBound + trueExtent + max(0, span)
        guard lo >= 0, hi <= bytes else {
            throw .outOfRange("Datatype.\(what): \(count) element(s) touch bytes \(lo)..<\(hi), outside the \(bytes)-byte buffer")
        }
    }

    /// Packs `count` elements from `source` (element 0 at its start) into `destination` at
    /// `position`, then advances `position` (MPI_Pack).
    public func pack(_ source: UnsafeRawBufferPointer, count: Int = 1, into destination: UnsafeMutableRawBufferPointer,
                     position: inout Int, pool: ThreadPool? = nil) throws(TesseraError) {
        try commit()
        try checkCovers(bytes: source.count, count: count, "pack")
        var pos = Int64(position)
        try check(tsr_datatype_pack(pool?.handle, source.baseAddress, Int64(count), handle,
                                    destination.baseAddress, Int64(destination.count), &pos))
        position = Int(pos)
    }

    /// Unpacks `count` elements from `source` at `position` into `destination`, then
    /// advances `position` (MPI_Unpack).
    public func unpack(_ source: UnsafeRawBufferPointer, position: inout Int, into destination: UnsafeMutableRawBufferPointer,
                       count: Int = 1, pool: ThreadPool? = nil) throws(TesseraError) {
        try commit()
        try checkCovers(bytes: destination.count, count: count, "unpack")
        var pos = Int64(position)
        try check(tsr_datatype_unpack(pool?.handle, source.baseAddress, Int64(source.count), &pos,
                                      destination.baseAddress, Int64(count), handle))
        position = Int(pos)
    }

    /// The reference packer: walks the constructor tree one primitive at a time (slow on
    /// purpose; the oracle for tests and the "naive" baseline of `tessera bench datatype`).
    public func packReference(_ source: UnsafeRawBufferPointer, count: Int = 1, into destination: UnsafeMutableRawBufferPointer,
                              position: inout Int) throws(TesseraError) {
        try commit()
        try checkCovers(bytes: source.count, count: count, "packReference")
        var pos = Int64(position)
        try check(tsr_datatype_pack_naive(source.baseAddress, Int64(count), handle, destination.baseAddress,
                                          Int64(destination.count), &pos))
        position = Int(pos)
    }

    /// Packs only bytes `range` of the packed stream (for chunked or pipelined sends).
    public func pack(_ source: UnsafeRawBufferPointer, count: Int = 1, byteRange range: Range<Int>,
                     into destination: UnsafeMutableRawBufferPointer, pool: ThreadPool? = nil) throws(TesseraError) {
        try commit()
        try checkCovers(bytes: source.count, count: count, "pack")
        guard destination.count >= range.count else {
            throw .outOfRange("Datatype.pack: \(range.count) bytes do not fit in \(destination.count)")
        }
        try check(tsr_datatype_pack_range(pool?.handle, source.baseAddress, Int64(count), handle,
                                          Int64(range.lowerBound), Int64(range.count), destination.baseAddress))
    }

    /// Unpacks bytes `range` of the packed stream, given in `source`, into `destination`.
    public func unpack(_ source: UnsafeRawBufferPointer, byteRange range: Range<Int>,
                       into destination: UnsafeMutableRawBufferPointer, count: Int = 1,
                       pool: ThreadPool? = nil) throws(TesseraError) {
        try commit()
        try checkCovers(bytes: destination.count, count: count, "unpack")
        guard source.count >= range.count else {
            throw .outOfRange("Datatype.unpack: \(range.count) bytes wanted, \(source.count) given")
        }
        try check(tsr_datatype_unpack_range(pool?.handle, source.baseAddress, Int64(range.lowerBound),
                                            Int64(range.count), destination.baseAddress, Int64(count), handle))
    }

    // MARK: typed conveniences

    /// Runs `body` (whose buffer closures rethrow untyped) and keeps Tessera's typed errors.
    private func typed<R>(_ body: () throws -> R) throws(TesseraError) -> R {
        do { return try body() } catch let e as TesseraError { throw e } catch { throw .internalError("\(error)") }
    }

    /// Packs `count` elements laid over `array`'s storage; returns the packed bytes.
    public func pack<E: TensorElement>(_ array: [E], count: Int = 1, pool: ThreadPool? = nil) throws(TesseraError) -> [UInt8] {
        try typed { try array.withUnsafeBytes { try packBytes($0, count: count, pool: pool) } }
    }

    /// Unpacks `bytes` into `count` elements laid over `array`'s storage.
    public func unpack<E: TensorElement>(_ bytes: [UInt8], into array: inout [E], count: Int = 1,
                                         pool: ThreadPool? = nil) throws(TesseraError) {
        try typed {
            try bytes.withUnsafeBytes { src in
                try array.withUnsafeMutableBytes { dst in
                    var pos = 0
                    try unpack(src, position: &pos, into: dst, count: count, pool: pool)
                }
            }
        }
    }

    /// Packs `count` elements laid over a matrix's storage (row stride included).
    public func pack<E>(_ matrix: Matrix<E>, count: Int = 1, pool: ThreadPool? = nil) throws(TesseraError) -> [UInt8] {
        try typed { try matrix.withUnsafeBufferPointer { try packBytes(UnsafeRawBufferPointer($0), count: count, pool: pool) } }
    }

    /// Unpacks into `count` elements laid over a matrix's storage.
    public func unpack<E>(_ bytes: [UInt8], into matrix: inout Matrix<E>, count: Int = 1,
                          pool: ThreadPool? = nil) throws(TesseraError) {
        try typed {
            try bytes.withUnsafeBytes { src in
                try matrix.withUnsafeMutableBufferPointer { b in
                    var pos = 0
                    try unpack(src, position: &pos, into: UnsafeMutableRawBufferPointer(b), count: count, pool: pool)
                }
            }
        }
    }

    /// Packs `count` elements laid over a tensor's storage.
    public func pack<E>(_ tensor: Tensor<E>, count: Int = 1, pool: ThreadPool? = nil) throws(TesseraError) -> [UInt8] {
        try typed { try tensor.withUnsafeBufferPointer { try packBytes(UnsafeRawBufferPointer($0), count: count, pool: pool) } }
    }

    /// Unpacks into `count` elements laid over a tensor's storage.
    public func unpack<E>(_ bytes: [UInt8], into tensor: inout Tensor<E>, count: Int = 1,
                          pool: ThreadPool? = nil) throws(TesseraError) {
        try typed {
            try bytes.withUnsafeBytes { src in
                try tensor.withUnsafeMutableBufferPointer { b in
                    var pos = 0
                    try unpack(src, position: &pos, into: UnsafeMutableRawBufferPointer(b), count: count, pool: pool)
                }
            }
        }
    }

    private func packBytes(_ src: UnsafeRawBufferPointer, count: Int, pool: ThreadPool?) throws(TesseraError) -> [UInt8] {
        let n = try packedSize(count: count)
        var out = [UInt8](repeating: 0, count: n)
        try typed {
            try out.withUnsafeMutableBytes { dst in
                var pos = 0
                try pack(src, count: count, into: dst, position: &pos, pool: pool)
            }
        }
        return out
    }
}
