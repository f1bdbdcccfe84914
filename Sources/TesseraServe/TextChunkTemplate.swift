import Foundation
import NIOCore

/// The Server-Sent Event of a streamed token whose chunk carries only text (no log-probabilities,
/// no finish reason): `data: {…"text":"…"…}\n\n`. Foundation serialises the request's chunk once,
/// with a marker in place of the text; each token's event is the bytes before the marker, the
/// token's text escaped as a JSON string body, and the bytes after it — the same JSON object as
/// `ResponseShaper.chunk(text:)`, without a dictionary built and serialised per token.
struct TextChunkTemplate {
    let prefix: [UInt8]
    let suffix: [UInt8]

    init(_ shaper: ResponseShaper) {
        // a marker that JSON leaves as it is and that no id or model name holds
        let marker = "tessera-text-" + UUID().uuidString
        let whole = JSON.encode(shaper.chunk(text: marker))
        let m = Array(marker.utf8)
        var at = 0
        while at + m.count <= whole.count && !whole[at..<(at + m.count)].elementsEqual(m) { at += 1 }
        prefix = Array("data: ".utf8) + whole[..<at]
        suffix = Array(whole[(at + m.count)...]) + Array("\n\n".utf8)
    }

    /// The event for `text`.
    func event(_ text: String) -> ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(prefix.count + suffix.count + text.utf8.count + 8)
        b.writeBytes(prefix)
        JSONWriter.escape(text, into: &b)
        b.writeBytes(suffix)
        return b
    }
}
