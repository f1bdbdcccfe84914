// Fields: values on a grid, in 64-byte aligned Tessera storage, C order.

import Foundation

/// Scalar types a field can hold.
public protocol PDEScalar: BinaryFloatingPoint, TensorElement, NPYScalar {}
extension Double: PDEScalar {}
extension Float: PDEScalar {}

/// Values on a `Grid` (shape = grid.shape, row-major). Value semantics (copy on write).
public struct Field<Scalar: PDEScalar>: Sendable {
    /// The grid the values live on.
    public let grid: Grid
    /// The values, shaped like the grid (row-major).
    public private(set) var values: Tensor<Scalar>

    /// A zero field.
    public init(grid: Grid) throws(TesseraError) {
        self.grid = grid
        self.values = try Tensor(shape: grid.shape)
    }

    /// A field from row-major values. Errors: `.invalidArgument` on a count mismatch.
    public init(grid: Grid, values: [Scalar]) throws(TesseraError) {
        guard values.count == grid.count else {
            throw .invalidArgument("Field: \(values.count) values for grid \(grid.shape) (\(grid.count) points)")
        }
        self.grid = grid
        self.values = try Tensor(shape: grid.shape, elements: values)
    }

    /// A field sampled from f(coordinates) (coordinates in C order: [x] / [y, x] / [z, y, x]).
    public init(grid: Grid, _ f: ([Double]) -> Double) throws(TesseraError) {
        try self.init(grid: grid)
        let shape = grid.shape
        var idx = [Int](repeating: 0, count: shape.count)
        var coord = [Double](repeating: 0, count: shape.count)
        values.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count {
                for a in 0..<shape.count { coord[a] = grid.coordinate(a, idx[a]) }
                p[i] = Scalar(f(coord))
                var a = shape.count - 1
                while a >= 0 { idx[a] += 1; if idx[a] < shape[a] { break }; idx[a] = 0; a -= 1 }
            }
        }
    }

    /// Number of grid points.
    public var count: Int { grid.count }

    /// The values in row-major order.
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Scalar>) throws(E) -> R) throws(E) -> R {
        try values.withUnsafeBufferPointer(body)
    }

    /// The values in row-major order, mutable (copies first if the storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> R) throws(E) -> R {
        try values.withUnsafeMutableBufferPointer(body)
    }

    /// The values as an array (row-major).
    public func toArray() -> [Scalar] { values.toArray() }

    /// Index (row-major) of the first NaN or infinity, if any.
    public var firstNonFinite: Int? {
        withUnsafeBufferPointer { p in p.firstIndex { !$0.isFinite } }
    }

    /// max |v|.
    public var maxAbs: Double { withUnsafeBufferPointer { p in p.reduce(0) { Swift.max($0, Double(abs($1))) } } }

    /// Root-mean-square value.
    public var rms: Double {
        withUnsafeBufferPointer { p in (p.reduce(0) { $0 + Double($1) * Double($1) } / Double(Swift.max(p.count, 1))).squareRoot() }
    }

    /// max |self − other| (grids must have the same shape).
    public func maxDifference(_ other: Field) throws(TesseraError) -> Double {
        guard other.grid.shape == grid.shape else {
            throw .invalidArgument("Field: shapes \(grid.shape) and \(other.grid.shape) differ")
        }
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                var m = 0.0
                for i in 0..<a.count { m = Swift.max(m, abs(Double(a[i]) - Double(b[i]))) }
                return m
            }
        }
    }

    /// Throws `.invalidArgument` naming the first non-finite value (use on initial data).
    public func requireFinite(_ what: String) throws(TesseraError) {
        if let i = firstNonFinite {
            throw .invalidArgument("\(what): value \(i) (index \(multiIndex(i))) is \(values.toArray()[i]), not finite")
        }
    }

    func multiIndex(_ flat: Int) -> [Int] {
        var r = flat, out = [Int](repeating: 0, count: grid.dimensions)
        for a in stride(from: grid.dimensions - 1, through: 0, by: -1) { out[a] = r % grid.shape[a]; r /= grid.shape[a] }
        return out
    }

    // MARK: .npy

    /// Saves the values as a `.npy` file of the grid's shape (dtype '<f8' or '<f4').
    public func save(npy path: String) throws(TesseraError) {
        try NPYArray(shape: grid.shape, elements: toArray()).write(to: path)
    }

    /// Loads a field saved as `.npy`. The file must hold exactly `grid.shape` values of this
    /// field's scalar type. Errors: `.io`, `.malformedInput` (bad file), `.invalidArgument`
    /// (wrong shape or dtype, naming both).
    public init(grid: Grid, npy path: String) throws(TesseraError) {
        let a = try NPYArray(contentsOf: path)
        guard a.shape == grid.shape else {
            throw .invalidArgument("Field: '\(path)' has shape \(a.shape), grid expects \(grid.shape)")
        }
        try self.init(grid: grid, values: a.elements(as: Scalar.self))
    }

    // MARK: pictures

    /// A picture of a 2-D field (y up: row 0 at the bottom), or of the slice `index` along
    /// `axis` of a 3-D field. 1-D fields are drawn as a one-row strip.
    public func image(colormap: Colormap = .aurora, range: ColorRange = .automatic, scale: Int = 1,
                      sliceAxis axis: Int = 0, sliceIndex index: Int = 0) throws(TesseraError) -> RasterImage {
        let s = grid.shape
        switch grid.dimensions {
        case 1:
            return try RasterImage(field: toArray(), rows: 1, cols: s[0], colormap: colormap, range: range, scale: scale)
        case 2:
            return try RasterImage(field: toArray(), rows: s[0], cols: s[1], colormap: colormap, range: range,
                                   scale: scale, flipVertical: true)
        default:
            guard (0..<3).contains(axis), index >= 0, index < s[Swift.max(0, Swift.min(axis, 2))] else {
                throw .invalidArgument("Field.image: slice axis \(axis) index \(index) outside \(s)")
            }
            let v = toArray()
            var out: [Scalar] = []
            let (r, c): (Int, Int)
            switch axis {
            case 0: (r, c) = (s[1], s[2]); for y in 0..<s[1] { for x in 0..<s[2] { out.append(v[(index * s[1] + y) * s[2] + x]) } }
            case 1: (r, c) = (s[0], s[2]); for z in 0..<s[0] { for x in 0..<s[2] { out.append(v[(z * s[1] + index) * s[2] + x]) } }
            default: (r, c) = (s[0], s[1]); for z in 0..<s[0] { for y in 0..<s[1] { out.append(v[(z * s[1] + y) * s[2] + index]) } }
            }
            return try RasterImage(field: out, rows: r, cols: c, colormap: colormap, range: range, scale: scale, flipVertical: true)
        }
    }
}
