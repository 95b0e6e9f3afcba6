import Tributary

/// Ridge regression by the normal equations, solved with Gaussian elimination.
enum LeastSquares {
    struct SingularSystem: Error, NonRetryableError, CustomStringConvertible {
        var description: String { "the normal equations are singular; add rows or raise alpha" }
    }

    /// Weights [intercept, w1, w2, w3] minimising ‖y − Xw‖² + alpha·‖w₁…‖² for rows `x1,x2,x3,y`.
    static func fitRidge(rows: [[Double]], alpha: Double) throws -> [Double] {
        let n = 4
        var a = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for row in rows {
            let x = [1.0, row[0], row[1], row[2]]
            for i in 0..<n {
                for j in 0..<n { a[i][j] += x[i] * x[j] }
                a[i][n] += x[i] * row[3]
            }
        }
        for i in 1..<n { a[i][i] += alpha }
        for column in 0..<n {
            let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            guard abs(a[pivot][column]) > 1e-12 else { throw SingularSystem() }
            a.swapAt(column, pivot)
            for r in 0..<n where r != column {
                let factor = a[r][column] / a[column][column]
                for c in column...n { a[r][c] -= factor * a[column][c] }
            }
        }
        return (0..<n).map { a[$0][n] / a[$0][$0] }
    }

    static func predict(_ row: [Double], _ w: [Double]) -> Double {
        w[0] + w[1] * row[0] + w[2] * row[1] + w[3] * row[2]
    }

    /// Coefficient of determination on `rows`.
    static func r2(rows: [[Double]], weights: [Double]) -> Double {
        guard !rows.isEmpty else { return 0 }
        let mean = rows.map { $0[3] }.reduce(0, +) / Double(rows.count)
        let residual = rows.map { ($0[3] - predict($0, weights)) * ($0[3] - predict($0, weights)) }.reduce(0, +)
        let total = rows.map { ($0[3] - mean) * ($0[3] - mean) }.reduce(0, +)
        return total == 0 ? 0 : 1 - residual / total
    }
}
