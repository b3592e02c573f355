extension Array where Element: Sendable {
    /// `transform` applied to every element, at most `limit` at a time, results in order. The
    /// first error cancels the rest and is rethrown.
    func concurrentMap<Result: Sendable>(
        limit: Int, _ transform: @escaping @Sendable (Element) async throws -> Result
    ) async throws -> [Result] {
        var results = [Result?](repeating: nil, count: count)
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var next = 0
            func start() {
                let index = next
                let element = self[index]
                next += 1
                group.addTask { (index, try await transform(element)) }
            }
            while next < count && next < Swift.max(1, limit) { start() }
            while let (index, result) = try await group.next() {
                results[index] = result
                if next < count { start() }
            }
        }
        return results.compactMap { $0 }
    }
}
