// Perceptual colormaps, designed in OKLab (Björn Ottosson's 2020 perceptual colour space).
//
// Each map is a short table of control points in OKLCh (lightness L, chroma C, hue h in
// degrees). Lightness is a straight line in t (sequential maps) or a symmetric tent
// (diverging maps), so equal steps in the data give equal steps in perceived lightness and
// the maps read correctly in grayscale. Chroma and hue are interpolated piecewise-linearly
// between the control points; a colour that falls outside the sRGB gamut keeps its L and h
// and has its chroma reduced (bisection) until it fits. The 256-entry 8-bit tables are built
// once, on first use.
//
//  map        like       L (t=0 → 1)            hue path (degrees)                 use
//  .aurora    viridis    0.28 → 0.93 linear     300 → 250 → 190 → 145 → 105        magnitudes
//  .ember     magma      0.16 → 0.97 linear     290 → 330 → 385(=25) → 435 → 460   intensities, spectra
//  .tide      balance    0.36 → 0.97 → 0.36     255 (blue) | 25 (red)              signed fields (vorticity)
//  .gray      gray       0 → 1 (sRGB ramp)      —                                  plain
//
// The tables are Tessera's own, not copies of matplotlib's.

import Foundation

/// A perceptual colour map: maps t ∈ [0, 1] to an 8-bit sRGB colour.
public enum Colormap: String, CaseIterable, Sendable {
    /// Sequential, viridis-like: dark blue-violet through teal and green to light yellow.
    case aurora
    /// Sequential, magma-like: near-black through purple and red-orange to pale yellow.
    case ember
    /// Diverging, blue – near-white – red, for signed data centred on 0 (use `.symmetric`).
    case tide
    /// Sequential gray ramp.
    case gray

    /// Whether the map is meant for signed data around a centre (then `.symmetric` ranges fit).
    public var isDiverging: Bool { self == .tide }

    /// The colour at t (clamped to [0, 1]); NaN gives the map's `nanColor`.
    public func color(at t: Double) -> (r: UInt8, g: UInt8, b: UInt8) {
        guard !t.isNaN else { return Colormap.nanColor }
        let i = Int((min(max(t, 0), 1) * 255).rounded())
        return lookupTable[i]
    }

    /// The colour for values that are not numbers: magenta, which none of the maps contains.
    public static let nanColor: (r: UInt8, g: UInt8, b: UInt8) = (255, 0, 255)

    /// The 256 colours of the map (index i ↔ t = i / 255).
    public var lookupTable: [(r: UInt8, g: UInt8, b: UInt8)] {
        switch self {
        case .aurora: return ColormapTables.aurora
        case .ember: return ColormapTables.ember
        case .tide: return ColormapTables.tide
        case .gray: return ColormapTables.gray
        }
    }
}

/// Control points: (t, C, h°). L comes from the lightness rule of each map.
enum ColormapTables {
    typealias Point = (t: Double, c: Double, h: Double)

    static let auroraPoints: [Point] = [
        (0.00, 0.12, 300), (0.25, 0.09, 250), (0.50, 0.10, 190), (0.75, 0.16, 145), (1.00, 0.19, 105),
    ]
    static let emberPoints: [Point] = [
        (0.00, 0.06, 290), (0.30, 0.17, 330), (0.60, 0.20, 385), (0.85, 0.15, 435), (1.00, 0.08, 460),
    ]

    static let aurora: [(r: UInt8, g: UInt8, b: UInt8)] =
        build { t in (0.28 + 0.65 * t, interp(auroraPoints, t)) }
    static let ember: [(r: UInt8, g: UInt8, b: UInt8)] =
        build { t in (0.16 + 0.81 * t, interp(emberPoints, t)) }
    static let tide: [(r: UInt8, g: UInt8, b: UInt8)] = build { t in
        let u = abs(2 * t - 1)  // 0 at the centre, 1 at both ends
        let l = 0.97 - 0.61 * u
        let c = 0.01 + 0.14 * u
        return (l, (c, t < 0.5 ? 255 : 25))
    }
    static let gray: [(r: UInt8, g: UInt8, b: UInt8)] = (0..<256).map {
        (UInt8($0), UInt8($0), UInt8($0))
    }

    static func interp(_ pts: [Point], _ t: Double) -> (c: Double, h: Double) {
        var k = 0
        while k + 2 < pts.count && t > pts[k + 1].t { k += 1 }
        let a = pts[k], b = pts[k + 1]
        let f = (t - a.t) / (b.t - a.t)
        return (a.c + f * (b.c - a.c), a.h + f * (b.h - a.h))
    }

    static func build(_ f: (Double) -> (Double, (c: Double, h: Double))) -> [(r: UInt8, g: UInt8, b: UInt8)] {
        (0..<256).map { i in
            let (l, ch) = f(Double(i) / 255)
            return OKLab.srgb8(l: l, c: ch.c, hDegrees: ch.h)
        }
    }
}

/// OKLab ↔ sRGB conversions (matrices from Ottosson, "A perceptual color space for image
/// processing", 2020).
public enum OKLab {
    /// Linear sRGB of an OKLab colour.
    public static func linearSRGB(l: Double, a: Double, b: Double) -> (Double, Double, Double) {
        let l_ = l + 0.3963377774 * a + 0.2158037573 * b
        let m_ = l - 0.1055613458 * a - 0.0638541728 * b
        let s_ = l - 0.0894841775 * a - 1.2914855480 * b
        let L = l_ * l_ * l_, M = m_ * m_ * m_, S = s_ * s_ * s_
        return (4.0767416621 * L - 3.3077115913 * M + 0.2309699292 * S,
                -1.2684380046 * L + 2.6097574011 * M - 0.3413193965 * S,
                -0.0041960863 * L - 0.7034186147 * M + 1.7076147010 * S)
    }

    /// OKLab of a linear sRGB colour.
    public static func fromLinearSRGB(_ r: Double, _ g: Double, _ b: Double) -> (l: Double, a: Double, b: Double) {
        let l = 0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b
        let m = 0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b
        let s = 0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b
        let l_ = cbrt(l), m_ = cbrt(m), s_ = cbrt(s)
        return (0.2104542553 * l_ + 0.7936177850 * m_ - 0.0040720468 * s_,
                1.9779984951 * l_ - 2.4285922050 * m_ + 0.4505937099 * s_,
                0.0259040371 * l_ + 0.7827717662 * m_ - 0.8086757660 * s_)
    }

    /// sRGB transfer function (linear → encoded), input clamped to [0, 1].
    public static func encode(_ x: Double) -> Double {
        let v = min(max(x, 0), 1)
        return v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055
    }

    /// sRGB decoding (encoded → linear).
    public static func decode(_ x: Double) -> Double {
        x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4)
    }

    /// OKLab lightness of an 8-bit sRGB colour.
    public static func lightness(r: UInt8, g: UInt8, b: UInt8) -> Double {
        fromLinearSRGB(decode(Double(r) / 255), decode(Double(g) / 255), decode(Double(b) / 255)).l
    }

    /// 8-bit sRGB of an OKLCh colour; out-of-gamut chroma is reduced until it fits.
    static func srgb8(l: Double, c: Double, hDegrees: Double) -> (r: UInt8, g: UInt8, b: UInt8) {
        let h = hDegrees * Double.pi / 180
        func rgb(_ c: Double) -> (Double, Double, Double) { linearSRGB(l: l, a: c * cos(h), b: c * sin(h)) }
        func inGamut(_ v: (Double, Double, Double)) -> Bool {
            let e = 1e-9
            return v.0 >= -e && v.0 <= 1 + e && v.1 >= -e && v.1 <= 1 + e && v.2 >= -e && v.2 <= 1 + e
        }
        var v = rgb(c)
        if !inGamut(v) {
            var lo = 0.0, hi = c
            for _ in 0..<40 {
                let mid = 0.5 * (lo + hi)
                if inGamut(rgb(mid)) { lo = mid } else { hi = mid }
            }
            v = rgb(lo)
        }
        func q(_ x: Double) -> UInt8 { UInt8((encode(x) * 255).rounded()) }
        return (q(v.0), q(v.1), q(v.2))
    }
}

/// A categorical palette for labels: hues stepped by the golden angle (137.5°) in OKLCh at
/// two alternating lightnesses (0.58 and 0.72) and chroma 0.15, so neighbouring labels differ
/// in both hue and lightness. Label i always gets the same colour.
public enum CategoricalPalette {
    /// Colour of label `i` (i ≥ 0); negative labels (noise / unassigned) are mid gray.
    public static func color(_ label: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        if label < 0 { return (150, 150, 150) }
        if label < cache.count { return cache[label] }
        return make(label)
    }

    static let cache: [(r: UInt8, g: UInt8, b: UInt8)] = (0..<64).map(make)

    static func make(_ i: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let h = (30 + 137.50776 * Double(i)).truncatingRemainder(dividingBy: 360)
        return OKLab.srgb8(l: i % 2 == 0 ? 0.58 : 0.72, c: 0.15, hDegrees: h)
    }
}
