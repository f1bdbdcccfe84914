import Foundation
import Hummingbird

/// Turns every error that leaves a route (the router's 404/405, the body limit's 413, a
/// decoding failure) into OpenAI's error object with the same status.
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            throw e
        } catch let e as HTTPResponseError {
            let type = e.status.code >= 500 ? "server_error" : "invalid_request_error"
            let message = e.status == .notFound ? "no route \(request.method) \(request.uri.path)" : e.status.reasonPhrase
            throw APIError(e.status, message, type: type)
        } catch is CancellationError {
            throw APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), "the request was cancelled", type: "cancelled")
        } catch {
            throw APIError(.internalServerError, "internal error: \(error)", type: "server_error")
        }
    }
}

/// Requires `Authorization: Bearer <key>` on every route but `/health` when a key is set (401).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, request.uri.path != "/health" else { return try await next(request, context) }
        let given = request.headers[.authorization] ?? ""
        let expected = "Bearer " + key
        // constant time in the key's length
        let a = Array(given.utf8), b = Array(expected.utf8)
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { diff |= (i < a.count ? a[i] : 0) ^ b[i] }
        guard diff == 0 else {
            throw APIError(.unauthorized, "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                           type: "authentication_error", code: "invalid_api_key")
        }
        return try await next(request, context)
    }
}
