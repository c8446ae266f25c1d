import OnyxCore

// The optional-type operators: Optional wraps a value (or nothing), OptionalHasElement and OptionalGetElement
// look inside. From opset 18 the latter two also accept a plain tensor or sequence, which counts as present.

/// Optional: the input wrapped as a present optional, or an empty optional of the `type` attribute's type.
struct OptionalKernel: Kernel {
    private let type: ValueType?

    init(_ node: KernelNode) throws {
        switch node.attributes["type"] {
        case nil: type = nil
        case .type(let declared)?: type = declared
        case let other?: throw KernelError.invalidAttribute("type", "expected a type, got \(other.kindName)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        guard let value = inputs.value(0) else {
            guard let type else {
                throw KernelError.invalidAttribute("type", "is required when the input is absent")
            }
            return [.optional(nil, type: type)]
        }
        return [.optional(value, type: type ?? inferredValueType(of: value))]
    }
}

/// OptionalHasElement and OptionalGetElement.
enum OptionalOps {
    /// OptionalHasElement: false for an absent input or an empty optional, true otherwise.
    static func hasElement(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let present: Bool
        switch inputs.value(0) {
        case nil, .optional(nil, _)?: present = false
        default: present = true
        }
        return [.tensor(Tensor(scalar: present))]
    }

    /// OptionalGetElement: the optional's element; a plain tensor or sequence passes through.
    static func getElement(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        switch inputs.value(0) {
        case nil: throw KernelError.missingInput(0)
        case .optional(nil, _)?: throw KernelError.invalidInput("the optional input is empty")
        case .optional(let element?, _)?: return [element]
        case let value?: return [value]
        }
    }
}
