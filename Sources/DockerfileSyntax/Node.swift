import Foundation

/// The low-level syntax tree BuildKit's parser produces: one child of the root per
/// instruction, its arguments as a `next` chain (flattened to an array here), its `--flags`,
/// heredocs and line range. No variables are expanded and instructions are not validated yet.
public struct Node: Sendable, Equatable {
    /// The instruction keyword as written (children of the root) or an argument value.
    public var value: String
    /// The argument nodes, in order (BuildKit's `Next` chain).
    public var next: [Node]
    /// Sub-instructions (ONBUILD's nested instruction).
    public var children: [Node]
    /// `--name=value` flags, as written without further parsing.
    public var flags: [String]
    public var heredocs: [ParsedHeredoc]
    /// True when the arguments were a JSON array (exec form).
    public var isJSON: Bool
    /// The logical line (continuations joined).
    public var original: String
    public var startLine: Int
    public var endLine: Int

    public init(
        value: String = "", next: [Node] = [], children: [Node] = [], flags: [String] = [],
        heredocs: [ParsedHeredoc] = [], isJSON: Bool = false, original: String = "", startLine: Int = 0,
        endLine: Int = 0
    ) {
        self.value = value
        self.next = next
        self.children = children
        self.flags = flags
        self.heredocs = heredocs
        self.isJSON = isJSON
        self.original = original
        self.startLine = startLine
        self.endLine = endLine
    }
}

/// A heredoc as the parser finds it (content before `<<-` tab stripping).
public struct ParsedHeredoc: Sendable, Equatable {
    public var name: String
    public var content: String
    public var expand: Bool
    public var chomp: Bool
    public var fileDescriptor: Int

    public init(name: String, content: String = "", expand: Bool, chomp: Bool, fileDescriptor: Int) {
        self.name = name
        self.content = content
        self.expand = expand
        self.chomp = chomp
        self.fileDescriptor = fileDescriptor
    }
}

extension Node {
    /// BuildKit's `Node.Dump()` S-expression form, used by the conformance corpus.
    public func dump() -> String {
        var text = value.lowercased()
        if !flags.isEmpty {
            text += " [" + flags.map(GoQuote.quote).joined(separator: " ") + "]"
        }
        for child in children {
            text += "(" + child.dump() + ")\n"
        }
        for argument in next {
            if !argument.children.isEmpty {
                text += " " + argument.dump()
            } else {
                text += " " + GoQuote.quote(argument.value)
            }
        }
        return text.trimming(.whitespacesAndNewlines)
    }
}

/// Go's `strconv.Quote`, so dumps match BuildKit's byte for byte.
enum GoQuote {
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                if scalar == "\u{FFFD}" {
                    out += "\\ufffd"
                } else if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += String(format: "\\x%02x", scalar.value)
                } else if scalar.value < 0x80 || Self.isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFFFF {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out += String(format: "\\U%08x", scalar.value)
                }
            }
        }
        return out + "\""
    }

    /// Go's unicode.IsPrint approximation: letters, marks, numbers, punctuation, symbols and
    /// the ASCII space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
