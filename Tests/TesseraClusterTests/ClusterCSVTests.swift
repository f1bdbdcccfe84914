import Testing
@testable import TesseraCluster

@Suite("ClusterCSV and PCA")
struct ClusterCSVTests {
    @Test("header, separators, comments")
    func parse() throws {
        let (m, h) = try ClusterCSV.parse("x,y\n# note\n1,2\n\n3.5, -4\r\n")
        #expect(h == ["x", "y"])
        #expect(m.rows == 2 && m.cols == 2 && m.toArray() == [1, 2, 3.5, -4])
        let (t, none) = try ClusterCSV.parse("1\t2\t3\n4\t5\t6")
        #expect(none == nil && t.rows == 2 && t.cols == 3)
    }

    @Test("errors name the line and column")
    func errors() throws {
        do { _ = try ClusterCSV.parse("a,b\n1,2\n3\n"); Issue.record("ragged accepted") } catch {
            #expect(error.message.contains("line 3"))
        }
        do { _ = try ClusterCSV.parse("1,2\n3,x\n"); Issue.record("text accepted") } catch {
            #expect(error.message.contains("line 2, column 2"))
        }
        do { _ = try ClusterCSV.parse("1,2\n3,nan\n"); Issue.record("NaN accepted") } catch {
            #expect(error.message.contains("line 2, column 2"))
        }
        #expect(throws: TesseraError.self) { try ClusterCSV.parse("x,y\n") }
        #expect(throws: TesseraError.self) { try ClusterCSV.read(path: "/nonexistent/file.csv") }
    }

    @Test("PCA: points on a line project onto the first axis")
    func pca() throws {
        let x = try Matrix<Double>(rows: 5, cols: 3, elements: (0..<5).flatMap { i in [Double(i), 2 * Double(i), -Double(i)] })
        let (a, b) = PrincipalComponents.project2D(x)
        for v in b { #expect(abs(v) < 1e-9) }
        #expect(abs(abs(a[4] - a[0]) - 4 * (6.0).squareRoot()) < 1e-9)
    }
}
