// `import Onyx` gives the whole public API: tensors, model files, the IR and the kernel API.
@_exported import OnyxCore
@_exported import OnyxFormat
@_exported import OnyxGraph
@_exported import OnyxKernels
