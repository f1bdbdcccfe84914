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

    /// `DissimilarityKernels.kmeansChunk` on `Float` data.
    public static func kmeansChunk(rows: Int, dimension: Int, x: UnsafePointer<Float>, ldx: Int,
                                   transposed: UnsafePointer<Float>, ldxt: Int, centers: Int, c: UnsafePointer<Float>,
                                   cnorm: UnsafePointer<Float>, labels: UnsafeMutablePointer<Int>,
                                   sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        try DissimilarityKernels.kmeansChunk(rows: rows, dimension: dimension, x: x, ldx: ldx, transposed: transposed,
                                             ldxt: ldxt, centers: centers, c: c, cnorm: cnorm, labels: labels,
                                             sums: sums, counts: counts)
    }

    /// `DissimilarityKernels.kmeansLabel` on `Float` data.
    public static func kmeansLabel(rows: Int, dimension: Int, x: UnsafePointer<Float>, ldx: Int,
                                   transposed: UnsafePointer<Float>, ldxt: Int, centers: Int, c: UnsafePointer<Float>,
                                   cnorm: UnsafePointer<Float>, labels: UnsafeMutablePointer<Int>,
                                   errors: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.kmeansLabel(rows: rows, dimension: dimension, x: x, ldx: ldx, transposed: transposed,
                                             ldxt: ldxt, centers: centers, c: c, cnorm: cnorm, labels: labels, errors: errors)
    }

    /// `DissimilarityKernels.kmeansAccumulate` on `Float` data.
    public static func kmeansAccumulate(rows: Int, dimension: Int, x: UnsafePointer<Float>, ldx: Int, centers: Int,
                                        labels: UnsafePointer<Int>, errors: UnsafePointer<Double>,
                                        sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        try DissimilarityKernels.kmeansAccumulate(rows: rows, dimension: dimension, x: x, ldx: ldx, centers: centers,
                                                  labels: labels, errors: errors, sums: sums, counts: counts)
    }

    /// `DissimilarityKernels.distanceRows` on `Float` data.
    public static func distanceRows(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                    transposed: UnsafePointer<Float>, ldxt: Int, x: UnsafePointer<Float>, ldx: Int,
                                    rows: Range<Int>, into out: UnsafeMutablePointer<Float>, ldo: Int) throws(TesseraError) {
        try DissimilarityKernels.distanceRows(metric, count: count, dimension: dimension, transposed: transposed,
                                              ldxt: ldxt, x: x, ldx: ldx, rows: rows, into: out, ldo: ldo)
    }

    /// `DissimilarityKernels.distanceSymmetric` on `Float` data.
    public static func distanceSymmetric(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                         transposed: UnsafePointer<Float>, ldxt: Int, x: UnsafePointer<Float>, ldx: Int,
                                         rows: Range<Int>, into out: UnsafeMutablePointer<Float>, ldo: Int) throws(TesseraError) {
        try DissimilarityKernels.distanceSymmetric(metric, count: count, dimension: dimension, transposed: transposed,
                                                   ldxt: ldxt, x: x, ldx: ldx, rows: rows, into: out, ldo: ldo)
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

    /// `DissimilarityKernels.kmeansChunk` on `Double` data.
    public static func kmeansChunk(rows: Int, dimension: Int, x: UnsafePointer<Double>, ldx: Int,
                                   transposed: UnsafePointer<Double>, ldxt: Int, centers: Int, c: UnsafePointer<Double>,
                                   cnorm: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int>,
                                   sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        try DissimilarityKernels.kmeansChunk(rows: rows, dimension: dimension, x: x, ldx: ldx, transposed: transposed,
                                             ldxt: ldxt, centers: centers, c: c, cnorm: cnorm, labels: labels,
                                             sums: sums, counts: counts)
    }

    /// `DissimilarityKernels.kmeansLabel` on `Double` data.
    public static func kmeansLabel(rows: Int, dimension: Int, x: UnsafePointer<Double>, ldx: Int,
                                   transposed: UnsafePointer<Double>, ldxt: Int, centers: Int, c: UnsafePointer<Double>,
                                   cnorm: UnsafePointer<Double>, labels: UnsafeMutablePointer<Int>,
                                   errors: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.kmeansLabel(rows: rows, dimension: dimension, x: x, ldx: ldx, transposed: transposed,
                                             ldxt: ldxt, centers: centers, c: c, cnorm: cnorm, labels: labels, errors: errors)
    }

    /// `DissimilarityKernels.kmeansAccumulate` on `Double` data.
    public static func kmeansAccumulate(rows: Int, dimension: Int, x: UnsafePointer<Double>, ldx: Int, centers: Int,
                                        labels: UnsafePointer<Int>, errors: UnsafePointer<Double>,
                                        sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        try DissimilarityKernels.kmeansAccumulate(rows: rows, dimension: dimension, x: x, ldx: ldx, centers: centers,
                                                  labels: labels, errors: errors, sums: sums, counts: counts)
    }

    /// `DissimilarityKernels.distanceRows` on `Double` data.
    public static func distanceRows(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                    transposed: UnsafePointer<Double>, ldxt: Int, x: UnsafePointer<Double>, ldx: Int,
                                    rows: Range<Int>, into out: UnsafeMutablePointer<Double>, ldo: Int) throws(TesseraError) {
        try DissimilarityKernels.distanceRows(metric, count: count, dimension: dimension, transposed: transposed,
                                              ldxt: ldxt, x: x, ldx: ldx, rows: rows, into: out, ldo: ldo)
    }

    /// `DissimilarityKernels.distanceSymmetric` on `Double` data.
    public static func distanceSymmetric(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                         transposed: UnsafePointer<Double>, ldxt: Int, x: UnsafePointer<Double>, ldx: Int,
                                         rows: Range<Int>, into out: UnsafeMutablePointer<Double>, ldo: Int) throws(TesseraError) {
        try DissimilarityKernels.distanceSymmetric(metric, count: count, dimension: dimension, transposed: transposed,
                                                   ldxt: ldxt, x: x, ldx: ldx, rows: rows, into: out, ldo: ldo)
    }

    /// `DissimilarityKernels.pamSwapDeltas` with `Double` distances.
    public static func pamSwapDeltas(count: Int, row: UnsafePointer<Double>, nearestSlot: UnsafePointer<Int32>,
                                     nearest: UnsafePointer<Double>, second: UnsafePointer<Double>, slots: Int,
                                     into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try DissimilarityKernels.pamSwapDeltas(count: count, row: row, nearestSlot: nearestSlot, nearest: nearest,
                                               second: second, slots: slots, into: out)
    }
}
