import ArgumentParser
import Foundation
import TesseraCLICore
import TesseraDiffusion

/// `tessera diffuse`: sample from a diffusers UNet2DModel folder or the exact Gaussian-field prior,
/// optionally patch-parallel, and report time, speed-up vs one patch, bytes exchanged and quality.
struct DiffusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffuse",
        abstract: "Diffusion sampling (DDPM/DDIM/Euler/Heun) with DistriFusion / PCPP / ASG patch parallelism (patches on MPI ranks: --distributed).",
        discussion: """
        Runs the chosen patch mode and, from the same seeds, the unsplit model (P = 1, which the \
        synchronous mode equals), then prints wall time, speed-up, bytes exchanged per step, PSNR and \
        max error vs the unsplit result and, for --gaussian-field, the radially averaged power-spectrum \
        error against the prior's true spectrum. With --distributed each rank computes one row patch \
        of the U-Net and the same PNG is written.
        """)

    @OptionGroup var options: DiffuseOptions

    func validate() throws { try options.validate(distributedRun: false) }

    func run() throws {
        let o = options
        let setup = try DiffuseSetup(o)
        let patches = o.patches ?? 2
        let pp = try PatchParallelDenoiser(base: setup.base, patches: patches, mode: setup.mode)
        pp.unetSchedule = setup.schedule
        let (mine, tMine) = try setup.run(pp, o, label: "\(setup.mode) P=\(patches)")
        try DiffuseOutput.write(mine, seconds: tMine, patches: patches, ranOn: "one process", bytesAfterWarmup: pp.bytesPerStepAfterWarmup,
                                bytesAll: pp.bytesPerStep, setup: setup, options: o)
        try DiffuseOutput.reference(mine, seconds: tMine, patches: patches, setup: setup, options: o)
    }
}
