// swift-tools-version:6.0
import PackageDescription


let package = Package(
    name: "Loupe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "loupe", targets: ["loupe"]),
        // The child process LoupeFormats' HDF5Guard reads HDF5 model files in; ship it beside
        // any program that loads .h5/.keras files through ModelFile.load.
        .executable(name: "loupe-check-model", targets: ["loupe-check-model"]),
        .library(name: "LoupeGraph", targets: ["LoupeGraph"]),
        .library(name: "LoupeFormats", targets: ["LoupeFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries: module.modulemap + shim.h only.
        .systemLibrary(name: "CProtobufC", path: "Sources/CProtobufC"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5"),
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f"),
        // oneDNN (libdnnl-dev): convolutions, imported only by LoupeTensor/OneDNN.swift.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        // protoc-c output for Schemas/onnx.proto (Scripts/gen-onnx-proto.sh).
        .target(
            name: "CONNXProto",
            dependencies: ["CProtobufC"],
            cSettings: [.unsafeFlags(["-w"])],
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        // Loupe's own C kernels, a path per instruction set (LoupeTensor dispatches by ISAPath).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        // OpenBLAS is opened at run time (LoupeTensor/OpenBLAS.swift), not linked.
        .target(name: "LoupeTensor", dependencies: ["CDNNL", "CKernels"]),
        .target(name: "LoupeGraph", dependencies: ["LoupeTensor"]),
        .target(name: "LoupeFormats", dependencies: ["LoupeGraph", "CONNXProto", "CProtobufC", "CPNG", "CJPEG", "CHDF5"]),
        .target(name: "LoupeExplain", dependencies: ["LoupeGraph"]),
        .target(name: "LoupeSurgery", dependencies: ["LoupeGraph", "LoupeTensor"]),
        .target(name: "LoupeRender", dependencies: ["LoupeTensor", "LoupeExplain", "LoupeAnalysis"]),
        // Analyses over a set of feature vectors: nearest neighbours, t-SNE.
        .target(name: "LoupeAnalysis", dependencies: ["LoupeTensor", "CFFTW"]),
        .executableTarget(name: "loupe-check-model", dependencies: ["LoupeFormats"]),
        .executableTarget(
            name: "loupe",
            dependencies: [
                "LoupeGraph", "LoupeFormats", "LoupeExplain", "LoupeRender", "LoupeSurgery", "LoupeAnalysis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What the test targets share (no tests of its own).
        .target(name: "LoupeTestSupport", dependencies: ["LoupeGraph", "LoupeTensor", "LoupeFormats", "LoupeExplain"], path: "Tests/LoupeTestSupport"),
        .testTarget(name: "LoupeTensorTests", dependencies: ["LoupeTensor", "LoupeTestSupport"]),
        .testTarget(name: "LoupeGraphTests", dependencies: ["LoupeGraph", "LoupeFormats", "LoupeTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LoupeFormatsTests", dependencies: ["LoupeFormats", "LoupeTestSupport", "loupe-check-model"], exclude: ["Fixtures"]),
        .testTarget(name: "LoupeRenderTests", dependencies: ["LoupeRender", "LoupeFormats", "LoupeTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LoupeExplainTests", dependencies: ["LoupeExplain", "LoupeFormats", "LoupeTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LoupeAnalysisTests", dependencies: ["LoupeAnalysis", "LoupeTensor", "LoupeTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "loupeTests", dependencies: ["loupe", "LoupeFormats", "LoupeRender", "LoupeExplain", "LoupeAnalysis", "LoupeTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LoupeSurgeryTests", dependencies: ["LoupeSurgery", "LoupeFormats", "LoupeExplain", "loupe", "LoupeTestSupport"], exclude: ["Fixtures"]),
    ],
    // Swift 5 mode: kernels hand raw buffers to parallel loops, which the Swift 6
    // checker cannot prove safe; the threading policy lives in LoupeTensor/GEMM.swift.
    swiftLanguageModes: [.v5]
)

// Fuzz targets (docs/fuzzing.md): in the manifest only when LOUPE_FUZZ=1, which Scripts/fuzz.sh
// sets when it builds them with libFuzzer and AddressSanitizer in .build-fuzz; the normal build
// never compiles them. Each exports LLVMFuzzerTestOneInput and calls one real reader.
if Context.environment["LOUPE_FUZZ"] == "1" {
    package.targets.append(.target(name: "LoupeFuzzSupport", dependencies: ["LoupeFormats", "LoupeTensor"], path: "Fuzz/Support"))
    let readers: [(String, [Target.Dependency])] = [
        ("fuzz-onnx", []), ("fuzz-keras-h5", []), ("fuzz-keras-zip", []), ("fuzz-png", []), ("fuzz-jpeg", []),
        ("fuzz-npy", []), ("fuzz-labels", []), ("fuzz-annotations", ["LoupeExplain"]),
        // The command line's value parsers live in the `loupe` executable, which no other executable can
        // import: this target compiles its sources again (a symlink), with its `main` renamed.
        ("fuzz-cli-values", ["LoupeGraph", "LoupeExplain", "LoupeRender", "LoupeSurgery", "LoupeAnalysis",
                             .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    ]
    for (name, dependencies) in readers {
        package.targets.append(.executableTarget(
            name: name, dependencies: ["LoupeFuzzSupport", "LoupeFormats", "LoupeTensor"] + dependencies,
            path: "Fuzz/Targets/\(name)",
            swiftSettings: name == "fuzz-cli-values" ? [.unsafeFlags(["-Xfrontend", "-entry-point-function-name", "-Xfrontend", "loupe_cli_main"])] : []))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
