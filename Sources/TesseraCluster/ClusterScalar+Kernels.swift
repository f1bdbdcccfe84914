import Tessera

extension Float {
    /// `DissimilarityKernels.distanceColumn` on `Float` data.
    public static func distanceColumn(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                      transposed xt: UnsafePointer<Float>, stride: Int, query: UnsafePointer<Float>,
                                      into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.distanceColumn(metric, count: count, dimension: dimension, transposed: xt,
                                                stride: stride, query: query, into: out)
    }

    /// `DissimilarityKernels.kmeansAssign` on `Float` data.
    public static func kmeansAssign(rows: Int, dimension: Int, x: UnsafePointer<Float>, ldx: Int, centers: Int,
                                    c: UnsafePointer<Float>, cnorm: UnsafePointer<Float>,
                                    labels: UnsafeMutablePointer<Int>) throws(TesseraError) {
        try DissimilarityKernels.kmeansAssign(rows: rows, dimension: dimension, x: x, ldx: ldx, centers: centers,
                                              c: c, cnorm: cnorm, labels: labels)
    }

    /// `DissimilarityKernels.pamSwapDeltas` with `Float` distances.
    public static func pamSwapDeltas(count: Int, row: UnsafePointer<Float>, nearestSlot: UnsafePointer<Int32>,
                                     nearest: UnsafePointer<Float>, second: UnsafePointer<Float>, slots: Int,
                                     into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.pamSwapDeltas(count: count, row: row, nearestSlot: nearestSlot, nearest: nearest,
                                               second: second, slots: slots, into: out)
    }
}

extension Double {
    /// `DissimilarityKernels.distanceColumn` on `Double` data.
    public static func distanceColumn(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                      transposed xt: UnsafePointer<Double>, stride: Int, query: UnsafePointer<Double>,
                                      into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.distanceColumn(metric, count: count, dimension: dimension, transposed: xt,
                                                stride: stride, query: query, into: out)
    }

    /// `DissimilarityKernels.kmeansAssign` on `Double` data.
    public static func kmeansAssign(rows: Int, dimension: Int, x: UnsafePointer<Double>, ldx: Int, centers: Int,
                                    c: UnsafePointer<Double>, cnorm: UnsafePointer<Double>,
                                    labels: UnsafeMutablePointer<Int>) throws(TesseraError) {
        try DissimilarityKernels.kmeansAssign(rows: rows, dimension: dimension, x: x, ldx: ldx, centers: centers,
                                              c: c, cnorm: cnorm, labels: labels)
    }

    /// `DissimilarityKernels.pamSwapDeltas` with `Double` distances.
    public static func pamSwapDeltas(count: Int, row: UnsafePointer<Double>, nearestSlot: UnsafePointer<Int32>,
                                     nearest: UnsafePointer<Double>, second: UnsafePointer<Double>, slots: Int,
                                     into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.pamSwapDeltas(count: count, row: row, nearestSlot: nearestSlot, nearest: nearest,
                                               second: second, slots: slots, into: out)
    }
}
