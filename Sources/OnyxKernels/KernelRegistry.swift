import OnyxCore
import OnyxFormat

/// Maps (domain, op type, opset version) to the factory that makes a node's kernel.
///
/// Each op registers the opset version its behaviour starts at; lookup picks the newest registration whose
/// version is ≤ the model's import of that domain. Built-in kernels register through this same API
/// (``KernelRegistry/standard``), so a custom kernel is one `register` call.
public struct KernelRegistry: Sendable {
    private struct Key: Hashable {
        let domain: String
        let opType: String
    }
    private var entries: [Key: [(since: Int, factory: KernelFactory)]] = [:]

    /// An empty registry.
    public init() {}

    /// Registers `factory` for `opType` in `domain` from opset version `since` on ("" is the ONNX domain).
    /// A later registration of the same (domain, op, version) replaces the earlier one.
    public mutating func register(
        _ opType: String, domain: String = "", since: Int = 1, factory: @escaping KernelFactory
    ) {
        let key = Key(domain: Self.normalized(domain), opType: opType)
        var list = entries[key, default: []].filter { $0.since != since }
        list.append((since, factory))
        list.sort { $0.since < $1.since }
        entries[key] = list
    }

    /// Registers a closure as the kernel for `opType`, for operators with nothing to parse at plan time.
    public mutating func register(
        _ opType: String, domain: String = "", since: Int = 1,
        run: @escaping @Sendable (KernelInputs, KernelContext) throws -> [Value]
    ) {
        register(opType, domain: domain, since: since) { _ in ClosureKernel(run) }
    }

    /// The factory serving `opType` of `domain` at `opsetVersion`, nil when none does.
    public func factory(for opType: String, domain: String, opsetVersion: Int) -> KernelFactory? {
        let list = entries[Key(domain: Self.normalized(domain), opType: opType)] ?? []
        return list.last { $0.since <= opsetVersion }?.factory
    }

    /// True when some version of `opType` is registered in `domain`.
    public func contains(_ opType: String, domain: String) -> Bool {
        entries[Key(domain: Self.normalized(domain), opType: opType)] != nil
    }

    /// Every registered (domain, op type) pair, sorted.
    public var registeredOps: [(domain: String, opType: String)] {
        entries.keys.map { ($0.domain, $0.opType) }.sorted { ($0.domain, $0.opType) < ($1.domain, $1.opType) }
    }

    /// Adds every registration of `other`, replacing same-keyed ones.
    public mutating func merge(_ other: KernelRegistry) {
        for (key, list) in other.entries {
            for entry in list { register(key.opType, domain: key.domain, since: entry.since, factory: entry.factory) }
        }
    }

    private static func normalized(_ domain: String) -> String { domain == "ai.onnx" ? "" : domain }
}

extension KernelRegistry {
    /// Creates the kernel for `node` and runs it once: a convenience for tests and one-off evaluation.
    public func evaluate(_ node: KernelNode, inputs: [Value?], context: KernelContext = KernelContext()) throws -> [Value] {
        guard let factory = factory(for: node.opType, domain: node.domain, opsetVersion: node.opsetVersion) else {
            throw KernelError.unsupported("no kernel for \(node.opType) (domain '\(node.domain)', opset \(node.opsetVersion))")
        }
        return try factory(node).run(KernelInputs(inputs), context: context)
    }
}
