// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Onyx",
    products: [
        .library(name: "Onyx", targets: ["Onyx"]),
        .executable(name: "infer", targets: ["infer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .target(name: "CONNX", dependencies: ["CProtobufC"]),
        .target(name: "OnyxCore"),
        .target(name: "OnyxFormat", dependencies: ["OnyxCore", "CONNX"]),
        .target(name: "OnyxGraph", dependencies: ["OnyxCore", "OnyxFormat"]),
        .target(name: "OnyxKernels", dependencies: ["OnyxCore", "OnyxFormat"]),
        .target(name: "Onyx", dependencies: ["OnyxCore", "OnyxFormat", "OnyxGraph", "OnyxKernels"]),
        .executableTarget(
            name: "infer",
            dependencies: ["Onyx", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "OnyxFormatTests", dependencies: ["OnyxFormat"]),
        .testTarget(name: "OnyxKernelTests", dependencies: ["OnyxKernels", "OnyxCore", "OnyxFormat"]),
        .testTarget(name: "OnyxRuntimeTests", dependencies: ["Onyx"]),
        .testTarget(name: "InferCLITests", dependencies: ["infer"]),
        .testTarget(
            name: "ConformanceTests", dependencies: ["infer"], exclude: ["ratchet.txt", "known-failures.txt"]),
    ],
    swiftLanguageModes: [.v6]
)
