/// A parsed `WWW-Authenticate` challenge from a registry's 401 answer, e.g.
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`.
public struct AuthChallenge: Sendable, Equatable {
    /// `basic` or `bearer` (lower-cased).
    public var scheme: String
    /// Parameters with lower-cased names: realm, service, scope, error…
    public var parameters: [String: String]

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Parses one or more challenges from a header value (RFC 7235 auth-params; quoted strings
    /// with backslash escapes; commas inside quotes kept).
    public static func parse(_ header: String) -> [AuthChallenge] {
        var challenges: [AuthChallenge] = []
        var scanner = Scanner(Array(header.unicodeScalars))
        while true {
            scanner.skipSpacesAndCommas()
            guard let scheme = scanner.token(), !scheme.isEmpty else { break }
            var parameters: [String: String] = [:]
            while true {
                scanner.skipSpaces()
                let mark = scanner.index
                guard let name = scanner.token(), scanner.consume("=") else {
                    scanner.index = mark
                    break
                }
                scanner.skipSpaces()
                let value = scanner.consume("\"") ? scanner.quotedRest() : (scanner.token() ?? "")
                parameters[name.lowercased()] = value
                scanner.skipSpaces()
                guard scanner.consume(",") else { break }
            }
            challenges.append(AuthChallenge(scheme: scheme.lowercased(), parameters: parameters))
        }
        return challenges
    }

    private struct Scanner {
        var characters: [Unicode.Scalar]
        var index = 0

        init(_ characters: [Unicode.Scalar]) {
            self.characters = characters
        }

        mutating func skipSpaces() {
            while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 }
        }

        mutating func skipSpacesAndCommas() {
            while index < characters.count, characters[index] == " " || characters[index] == "," { index += 1 }
        }

        mutating func consume(_ c: Unicode.Scalar) -> Bool {
            guard index < characters.count, characters[index] == c else { return false }
            index += 1
            return true
        }

        /// An RFC 7230 token (also accepts the token68 characters `/` `+` `=`-free subset).
        mutating func token() -> String? {
            let start = index
            while index < characters.count {
                let c = characters[index]
                if c == " " || c == "," || c == "=" || c == "\"" || c == "\t" { break }
                index += 1
            }
            return index > start ? String(String.UnicodeScalarView(characters[start..<index])) : nil
        }

        mutating func quotedRest() -> String {
            var out = String.UnicodeScalarView()
            while index < characters.count {
                let c = characters[index]
                index += 1
                if c == "\\", index < characters.count {
                    out.append(characters[index])
                    index += 1
                } else if c == "\"" {
                    break
                } else {
                    out.append(c)
                }
            }
            return String(out)
        }
    }
}
