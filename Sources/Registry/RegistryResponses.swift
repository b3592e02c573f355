import Foundation

/// The JSON bodies a registry and its token server answer with, read without trusting them.
enum RegistryResponses {
    /// The bearer token in a token server's answer (distribution's token spec): `token`, else
    /// the OAuth2 `access_token`; nil when the body holds neither as a string.
    static func token(fromTokenResponse data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return (object["token"] as? String) ?? (object["access_token"] as? String)
    }

    /// The messages of an error body, `{"errors": [{"code": …, "message": …}]}`, joined with
    /// `; ` (each error's message, else its code); empty when the body is not such an object.
    static func errorDetail(_ data: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let errors = object["errors"] as? [[String: Any]]
        else { return "" }
        return errors.compactMap { ($0["message"] as? String) ?? ($0["code"] as? String) }.joined(separator: "; ")
    }
}
