import Testing
@testable import Tessera

@Suite("Datatype")
struct DatatypeTests {
    @Test func vectorPacksColumnsOfAMatrix() throws {
        let m = try Matrix<Double>(rows: 4, cols: 5, elements: (0..<20).map(Double.init))
        let column = try Datatype.vector(count: 4, blockLength: 1, stride: 5, of: .double)
        #expect(column.size == 32)
        #expect(column.extent == 128)
        let bytes = try column.pack(m)
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        #expect(values == [0, 5, 10, 15])
        // two consecutive columns: count 2 uses the extent... resized to one element
        let col1 = try column.resized(lowerBound: 0, extent: 8)
        let two = try col1.pack(m, count: 2)
        let v2 = two.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        #expect(v2 == [0, 5, 10, 15, 1, 6, 11, 16])
        var back = try Matrix<Double>(rows: 4, cols: 5)
        try col1.unpack(two, into: &back, count: 2)
        #expect(back[3, 1] == 16 && back[2, 0] == 10 && back[0, 2] == 0)
    }

    @Test func haloFacesOfATensor() throws {
        let n = 6
        let grid = try Tensor<Double>(shape: [n, n, n], elements: (0..<(n * n * n)).map(Double.init))
        for axis in 0..<3 {
            let face = try Datatype.face(of: [n, n, n], axis: axis, start: 1, width: 2)
            #expect(face.isCommitted)
            let vals = try face.pack(grid).withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
            var want: [Double] = []
            for i in 0..<n { for j in 0..<n { for k in 0..<n {
                let idx = [i, j, k]
                if idx[axis] >= 1 && idx[axis] < 3 { want.append(grid[i, j, k]) }
            } } }
            #expect(vals == want)
        }
        let z = try Datatype.face(of: [n, n, n], axis: 2, start: 0)
        let l = try z.layout()
        #expect(l.kind == .strided && l.blockBytes == 8 && l.counts == [n * n] && l.strides == [8 * n])
    }

    @Test func equivalentConstructionsShareALayout() throws {
        let v = try Datatype.vector(count: 4, blockLength: 2, stride: 5, of: .int32)
        let h = try Datatype.hvector(count: 4, blockLength: 2, byteStride: 20, of: .int32)
        let ib = try Datatype.indexedBlock(blockLength: 2, displacements: [0, 5, 10, 15], of: .int32)
        #expect(try v.hasSameLayout(as: h))
        #expect(try v.hasSameLayout(as: ib))
        let rec = try Datatype.structure([
            .init(.int32, at: 0), .init(.double, count: 3, at: 8), .init(.primitive(.char), at: 32),
        ]).resized(lowerBound: 0, extent: 40)
        #expect(rec.size == 29 && rec.extent == 40)
        let l = try rec.layout()
        #expect(l.kind == .segments && l.segmentCount == 2)
        #expect(rec.description.hasPrefix("segments start=0 n=2"))
    }

    @Test func partialPacksConcatenate() throws {
        let t = try Datatype.vector(count: 50, blockLength: 3, stride: 7, of: .float).commit()
        let src = (0..<400).map(Float.init)
        let full = try t.pack(src)
        var parts: [UInt8] = []
        var at = 0
        try src.withUnsafeBytes { s in
            while at < full.count {
                let n = min(37, full.count - at)
                var chunk = [UInt8](repeating: 0, count: n)
                try chunk.withUnsafeMutableBytes { try t.pack(s, byteRange: at..<(at + n), into: $0) }
                parts += chunk
                at += n
            }
        }
        #expect(parts == full)
    }

    @Test func badInputThrowsInsteadOfTrapping() throws {
        #expect(throws: TesseraError.self) { try Datatype.contiguous(-1, of: .double) }
        #expect(throws: TesseraError.self) { try Datatype.indexed(blockLengths: [1], displacements: [0, 1], of: .double) }
        #expect(throws: TesseraError.self) {
            try Datatype.subarray(sizes: [4, 4], subsizes: [2, 2], starts: [3, 0])
        }
        #expect(throws: TesseraError.self) { try Datatype.face(of: [4, 4], axis: 2, start: 0) }
        // a type that reaches past the array is refused before any byte is read
        let t = try Datatype.vector(count: 4, blockLength: 1, stride: 10, of: .double)
        #expect(throws: TesseraError.self) { try t.pack([Double](repeating: 0, count: 20)) }
        let small = [UInt8](repeating: 0, count: 8)
        var dst = [Double](repeating: 0, count: 40)
        #expect(throws: TesseraError.self) { try t.unpack(small, into: &dst) }
    }
}
