import Foundation
import Hummingbird

/// An error in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with its status.
public struct APIError: Error, HTTPResponseError, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// What went wrong, for people.
    public var message: String
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, ...).
    public var type: String
    /// The request field at fault, when there is one.
    public var param: String?
    /// A machine-readable code (`model_not_found`, `context_length_exceeded`, ...).
    public var code: String?
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    public var retryAfter: Int?
    /// Whether the server closes the connection after this response (sent as `Connection: close`).
    public var closesConnection = false

    /// An error with these parts.
    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    /// 400 for a field with a bad value or type.
    static func field(_ name: String, _ message: String) -> APIError {
        APIError(.badRequest, "'\(name)': \(message)", param: name, code: "invalid_value")
    }

    /// The JSON body.
    var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param as Any? ?? NSNull(),
                   "code": code as Any? ?? NSNull()] as [String: Any]]
    }

    /// The response for this error.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if closesConnection { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSON.encode(body))))
    }
}

/// The API's JSON: responses are built as dictionaries and written by `JSONWriter`; request
/// bodies are parsed by Foundation's `JSONSerialization`.
enum JSON {
    static func encode(_ object: Any) -> [UInt8] {
        JSONWriter.encode(object)
            ?? Array(#"{"error":{"message":"response could not be encoded","type":"server_error"}}"#.utf8)
    }

    static func response(_ object: Any, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: encode(object))))
    }

    /// Parses a request body that must be a JSON object.
    static func object(_ buffer: ByteBuffer) throws(APIError) -> [String: Any] {
        try object(Data(buffer.readableBytesView))
    }

    /// Parses request body bytes that must be a JSON object.
    static func object(_ data: Data) throws(APIError) -> [String: Any] {
        guard !data.isEmpty else { throw APIError(.badRequest, "the request body is empty; a JSON object is expected", code: "invalid_json") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw APIError(.badRequest, "the request body is not valid JSON", code: "invalid_json")
        }
        guard let o = parsed as? [String: Any] else {
            throw APIError(.badRequest, "the request body must be a JSON object", code: "invalid_json")
        }
        return o
    }
}
