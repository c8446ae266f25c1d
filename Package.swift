// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Onyx",
    products: [
        .library(name: "Onyx", targets: ["Onyx"]),
        .executable(name: "infer", targets: ["infer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The C interface of kernel plug-ins: a header only, which plug-ins compile against too.
        .systemLibrary(name: "COnyxPlugin"),
        .target(name: "CONNX", dependencies: ["CProtobufC"]),
        .target(name: "OnyxCore"),
        .target(name: "OnyxFormat", dependencies: ["OnyxCore", "CONNX", "CZlib"]),
        .target(name: "OnyxGraph", dependencies: ["OnyxCore", "OnyxFormat"]),
        // Hot loops compiled for AVX2 and FMA, which OnyxKernels calls when the CPU has them.
        .target(name: "COnyxSIMD"),
        .target(name: "OnyxKernels", dependencies: ["OnyxCore", "OnyxFormat", "COnyxSIMD"]),
        .target(
            name: "Onyx",
            dependencies: [
                "OnyxCore", "OnyxFormat", "OnyxGraph", "OnyxKernels", "COnyxPlugin",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "infer",
            dependencies: [
                "Onyx", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The worked example of docs/custom-kernels.md: a kernel for a custom-domain op, in its own module.
        .target(name: "CustomKernel", dependencies: ["Onyx"], path: "Examples/CustomKernel"),
        .testTarget(name: "OnyxFormatTests", dependencies: ["OnyxFormat"]),
        .testTarget(name: "OnyxKernelTests", dependencies: ["OnyxKernels", "OnyxCore", "OnyxFormat", "OnyxGraph"]),
        .testTarget(name: "OnyxRuntimeTests", dependencies: ["Onyx"]),
        .testTarget(name: "InferCLITests", dependencies: ["infer"]),
        .testTarget(name: "CustomKernelTests", dependencies: ["CustomKernel", "Onyx"]),
        .testTarget(
            name: "ConformanceTests", dependencies: ["infer"], exclude: ["ratchet.txt", "known-failures.txt"]),
    ],
    swiftLanguageModes: [.v6]
)
