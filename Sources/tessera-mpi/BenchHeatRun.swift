import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed
import TesseraPDE

/// Worker of `tessera bench distributed`: explicit heat steps at n^D on this many ranks
/// (threads per rank from --threads): seconds per step, and the halo wait per step.
struct BenchHeatRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-heat", abstract: "Bench worker: distributed explicit heat step time.")

    @Option(parsing: .unconditional, help: "Grid points per axis.") var n = 2048
    @Option(parsing: .unconditional, help: "Steps per timed repeat.") var steps = 20
    @Option(parsing: .unconditional, help: "Space dimensions.") var dimensions = 2
    @Option(help: "Ranks per axis, comma-separated.") var decomposition: String?
    @Option(parsing: .unconditional, help: "Timed repeats.") var repeats = 3
    @Option(parsing: .unconditional, help: "Threads per rank.") var threads = 1

    func validate() throws {
        guard n >= 2, steps >= 1, (1...3).contains(dimensions), repeats >= 1, threads >= 1 else {
            throw ValidationError("need --n >= 2, --steps >= 1, --dimensions 1...3, --repeats >= 1, --threads >= 1")
        }
        _ = try parseDecomposition(decomposition, dimensions: dimensions)
    }

    func run() throws {
        MPIJob.run("bench-heat") { world in
            let grid = try Grid(shape: [Int](repeating: n, count: dimensions), lengths: [Double](repeating: 1, count: dimensions),
                                boundaries: [Boundary](repeating: .dirichlet(0), count: dimensions))
            let pool = try ThreadPool(threads: threads)
            let dt = 0.5 * FDHeat.explicitLimit(grid: grid, diffusivity: 1)
            let u0 = try Field<Double>(grid: grid) { x in x.reduce(1.0) { $0 * sin(3.1 * $1) } }
            let dg = try DistributedGrid(grid: grid, communicator: world, dims: try parseDecomposition(decomposition, dimensions: dimensions),
                                         transfer: .packed, pool: pool)
            let heat = try DistributedHeat(initial: u0, diffusivity: 1, dt: dt, on: dg)
            try heat.advance(steps: 2)
            var samples: [Double] = []
            for _ in 0..<repeats {
                try world.barrier()
                let t0 = MPI.wallTime()
                try heat.advance(steps: steps)
                samples.append(try world.allreduce((MPI.wallTime() - t0) / Double(steps), op: .max))
            }
            let s = stats(samples)
            let wait = try world.allreduce(heat.exchangeWaitSeconds, op: .max) / Double(steps * repeats + 2)
            CheckLine.emit(world, ["case": "heat", "n": n, "dims": "\(dg.cartesian.dims)", "step_seconds": s.median, "step_min": s.min,
                                   "step_max": s.max, "wait_seconds_per_step": wait, "cells": Double(grid.count),
                                   "halo_bytes_per_rank": Double(dg.haloBytesPerExchange)])
        }
    }
}
