import CRuntimeShim

#if canImport(Glibc)
    import Glibc
#endif

/// C memory for the shim's configuration, allocated before clone and freed after: the child
/// works on its own copy of these pages, so the parent may free them as soon as clone returns.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    func string(_ text: String) -> UnsafePointer<CChar> {
        let pointer = strdup(text)!
        allocations.append(pointer)
        return UnsafePointer(pointer)
    }

    func optionalString(_ text: String?) -> UnsafePointer<CChar>? {
        text.map(string)
    }

    /// A NULL-terminated `char *const *` array.
    func stringArray(_ list: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: list.count + 1)
        allocations.append(UnsafeMutableRawPointer(array))
        for (i, item) in list.enumerated() {
            array[i] = UnsafeMutablePointer(mutating: string(item))
        }
        array[list.count] = nil
        return UnsafePointer(array)
    }

    func array<T>(_ list: [T]) -> UnsafePointer<T>? {
        guard !list.isEmpty else { return nil }
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: list.count)
        pointer.initialize(from: list, count: list.count)
        allocations.append(UnsafeMutableRawPointer(pointer))
        return UnsafePointer(pointer)
    }

    func bytes(_ data: [UInt8]) -> UnsafeRawPointer? {
        guard !data.isEmpty, let pointer = malloc(data.count) else { return nil }
        data.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        allocations.append(pointer)
        return UnsafeRawPointer(pointer)
    }
}
