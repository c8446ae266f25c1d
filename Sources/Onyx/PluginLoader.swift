import COnyxPlugin
import Foundation
import OnyxCore
import OnyxFormat
import OnyxKernels

/// Why a kernel plug-in could not be loaded. The description is one line naming the library.
public enum PluginError: Error, Sendable, CustomStringConvertible {
    /// The library file is missing or the dynamic loader refused it.
    case cannotOpen(path: String, reason: String)
    /// The library lacks one of the functions every plug-in exports.
    case missingSymbol(path: String, symbol: String)
    /// The library was built against another version of `onyx_plugin.h`.
    case abiMismatch(path: String, plugin: UInt32, host: UInt32)
    /// `onyx_register_kernels` failed or registered something invalid.
    case registrationFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot load kernel plug-in \(path): \(reason)"
        case .missingSymbol(let path, let symbol):
            "\(path) is not an Onyx kernel plug-in: it does not export \(symbol) (see onyx_plugin.h)"
        case .abiMismatch(let path, let plugin, let host):
            "\(path) was built for plug-in ABI version \(plugin), this Onyx has version \(host); rebuild it against this onyx_plugin.h"
        case .registrationFailed(let path, let reason): "kernel plug-in \(path): \(reason)"
        }
    }
}

extension KernelRegistry {
    /// Loads a kernel plug-in: a shared library built against `onyx_plugin.h` (see docs/custom-kernels.md), and
    /// registers every kernel it offers, replacing same-keyed registrations. The library stays loaded for the rest
    /// of the process.
    public mutating func loadPlugin(at path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw PluginError.cannotOpen(path: path, reason: "no such file") }
        // An absolute path keeps dlopen from searching the library path for a bare file name.
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let library = dlopen(absolute, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginError.cannotOpen(path: path, reason: dlerror().map { String(cString: $0) } ?? "unknown reason")
        }
        // Unloaded again unless its kernels get registered, which keeps it for good.
        var registered = false
        defer { if !registered { dlclose(library) } }
        typealias VersionFunction = @convention(c) () -> UInt32
        typealias RegisterFunction = @convention(c) (UnsafePointer<OnyxPluginHost>?) -> Int32
        func symbol<F>(_ name: String, as _: F.Type) throws -> F {
            guard let address = dlsym(library, name) else { throw PluginError.missingSymbol(path: path, symbol: name) }
            return unsafeBitCast(address, to: F.self)
        }
        let version = try symbol("onyx_plugin_abi_version", as: VersionFunction.self)()
        guard version == ONYX_PLUGIN_ABI_VERSION else {
            throw PluginError.abiMismatch(path: path, plugin: version, host: ONYX_PLUGIN_ABI_VERSION)
        }
        let registerKernels = try symbol("onyx_register_kernels", as: RegisterFunction.self)
        let registrar = Registrar()
        var host = OnyxPluginHost(
            abi_version: ONYX_PLUGIN_ABI_VERSION, host_data: Unmanaged.passUnretained(registrar).toOpaque(),
            register_kernel: { host, domain, opType, since, compute, userData in
                guard let host, let registrarData = host.pointee.host_data else { return -1 }
                let registrar = Unmanaged<Registrar>.fromOpaque(registrarData).takeUnretainedValue()
                return registrar.add(domain: domain, opType: opType, since: since, compute: compute, userData: userData)
            })
        let status = withExtendedLifetime(registrar) { registerKernels(&host) }
        if let rejected = registrar.rejected { throw PluginError.registrationFailed(path: path, reason: rejected) }
        guard status == 0 else {
            throw PluginError.registrationFailed(path: path, reason: "onyx_register_kernels returned \(status)")
        }
        guard !registrar.kernels.isEmpty else {
            throw PluginError.registrationFailed(path: path, reason: "onyx_register_kernels registered no kernel")
        }
        registered = true
        for entry in registrar.kernels {
            let (compute, userData) = (entry.compute, entry.userData)
            register(entry.opType, domain: entry.domain, since: entry.since) { node in
                PluginKernel(
                    compute: compute, userData: userData, attributes: node.attributes, outputCount: node.outputCount)
            }
        }
    }
}

/// Collects what a plug-in registers during `onyx_register_kernels`.
private final class Registrar {
    struct Entry {
        let domain: String
        let opType: String
        let since: Int
        let compute: OnyxComputeFunction
        let userData: UserData
    }

    var kernels: [Entry] = []
    /// Why a registration was refused (the first one).
    var rejected: String?

    func add(
        domain: UnsafePointer<CChar>?, opType: UnsafePointer<CChar>?, since: Int32, compute: OnyxComputeFunction?,
        userData: UnsafeMutableRawPointer?
    ) -> Int32 {
        let opName = opType.map { String(cString: $0) } ?? ""
        guard let domain, !opName.isEmpty, since >= 1, let compute else {
            if rejected == nil {
                rejected = "register_kernel refused op '\(opName)': it needs a domain, an op type, since_version ≥ 1 and a compute function"
            }
            return -1
        }
        kernels.append(Entry(
            domain: String(cString: domain), opType: opName, since: Int(since), compute: compute,
            userData: UserData(pointer: userData)))
        return 0
    }
}

/// The plug-in's `user_data`, which it promises outlives the process and may be shared between threads.
private struct UserData: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer?
}

/// One node of a plug-in op: hands the inputs to the C compute function as views, and copies out the outputs it
/// allocates through the host.
private struct PluginKernel: Kernel {
    let compute: OnyxComputeFunction
    let userData: UserData
    let attributes: [String: AttributeValue]
    let outputCount: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let tensors = try (0..<inputs.count).map { index -> Tensor? in
            let tensor = try inputs.optionalTensor(index)
            if tensor?.dataType == .string { throw KernelError.invalidInput("input \(index): plug-in kernels take no string tensors") }
            return tensor
        }
        let call = KernelCall(attributes: attributes, outputCount: outputCount, threads: context.threads)
        var api = OnyxKernelAPI(
            allocate_output: { call, index, dtype, rank, dims in
                KernelCall.from(call)?.allocate(index: index, dtype: dtype, rank: rank, dims: dims)
            },
            attribute_int: { call, name, value in
                guard let name, case .int(let int)? = KernelCall.from(call)?.attributes[String(cString: name)] else { return 0 }
                value?.pointee = Int64(int)
                return 1
            },
            attribute_float: { call, name, value in
                switch KernelCall.from(call)?.attributes[name.map { String(cString: $0) } ?? ""] {
                case .float(let float)?: value?.pointee = float
                case .int(let int)?: value?.pointee = Float(int)
                default: return 0
                }
                return 1
            },
            threads: { call in Int32(KernelCall.from(call)?.threads ?? 1) })
        let failure = withExtendedLifetime(call) {
            withViews(of: tensors[...], views: []) { views in
                compute(&api, call.opaque, views.baseAddress, Int32(views.count), Int32(outputCount), userData.pointer)
                    .map { String(cString: $0) }
            }
        }
        // A refused allocation is the root cause of whatever the kernel then returned.
        if let reason = call.refusal ?? failure { throw KernelError.invalidInput(reason) }
        return try call.outputs().map(Value.tensor)
    }

    /// Calls `body` with a view of every tensor, keeping each one's storage pinned for the call.
    private func withViews<R>(
        of tensors: ArraySlice<Tensor?>, views: [OnyxTensor], _ body: (UnsafeBufferPointer<OnyxTensor>) -> R
    ) -> R {
        guard let first = tensors.first else {
            return views.withUnsafeBufferPointer(body)
        }
        guard let tensor = first else {
            let omitted = OnyxTensor(dtype: 0, rank: 0, dims: nil, count: 0, data: nil)
            return withViews(of: tensors.dropFirst(), views: views + [omitted], body)
        }
        let dims = tensor.shape.map(Int64.init)
        return dims.withUnsafeBufferPointer { dims in
            tensor.withUnsafeRawBytes { bytes in
                let view = OnyxTensor(
                    dtype: tensor.dataType.rawValue, rank: Int32(tensor.rank), dims: dims.baseAddress,
                    count: Int64(tensor.count), data: bytes.baseAddress)
                return withViews(of: tensors.dropFirst(), views: views + [view], body)
            }
        }
    }
}

/// The state of one compute call: the node's attributes and the output buffers the plug-in allocated.
private final class KernelCall {
    let attributes: [String: AttributeValue]
    let threads: Int
    private var buffers: [(type: DataType, shape: [Int], bytes: UnsafeMutableRawPointer)?]
    /// Why an allocation was refused (the first one).
    private(set) var refusal: String?

    /// Elements one output may have; a larger request is a bug in the plug-in, not a reason to exhaust memory.
    private static let maximumElementCount = 1 << 34

    init(attributes: [String: AttributeValue], outputCount: Int, threads: Int) {
        self.attributes = attributes
        self.threads = threads
        buffers = Array(repeating: nil, count: outputCount)
    }

    deinit {
        for buffer in buffers { buffer?.bytes.deallocate() }
    }

    /// The handle the plug-in passes back to the host's callbacks.
    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> KernelCall? {
        handle.map { Unmanaged<KernelCall>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    func allocate(index: Int32, dtype: Int32, rank: Int32, dims: UnsafePointer<Int64>?) -> UnsafeMutableRawPointer? {
        func refuse(_ reason: String) -> UnsafeMutableRawPointer? {
            if refusal == nil { refusal = "allocate_output(\(index)): \(reason)" }
            return nil
        }
        guard index >= 0, Int(index) < buffers.count else { return refuse("the node has \(buffers.count) outputs") }
        guard let type = DataType(rawValue: dtype), type != .string else { return refuse("element type \(dtype) is not a plain-data ONNX type") }
        guard rank >= 0, rank == 0 || dims != nil else { return refuse("rank \(rank) without dimensions") }
        let shape = dims.map { dims in (0..<Int(rank)).map { Int(dims[$0]) } } ?? []
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard extent >= 0, !overflow, product <= Self.maximumElementCount else { return refuse("invalid shape \(shape)") }
            count = product
        }
        buffers[Int(index)]?.bytes.deallocate()
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, count * type.storageSize), alignment: 16)
        buffers[Int(index)] = (type, shape, bytes)
        return bytes
    }

    /// The outputs as tensors; throws when the plug-in left one unallocated.
    func outputs() throws -> [Tensor] {
        try buffers.enumerated().map { index, buffer in
            guard let buffer else { throw KernelError.invalidInput("the plug-in kernel did not allocate output \(index)") }
            return Tensor.uninitialized(buffer.type, shape: buffer.shape) { destination in
                destination.copyMemory(from: UnsafeRawBufferPointer(start: buffer.bytes, count: destination.count))
            }
        }
    }
}
