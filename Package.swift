// swift-tools-version:6.0
// berth: a daemonless Dockerfile build tool for Linux.
//
// Data flows Dockerfile text → syntax tree (DockerfileSyntax) → build plan and steps (BuildEngine)
// → runtime core (ContainerRuntime + CRuntimeShim) → snapshot (Snapshots) → layer (LayerArchive)
// → image (OCIImage, ImageStore). Registry talks to OCI distribution registries.
import PackageDescription

let package = Package(
    name: "berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries, found through pkg-config.
        // libarchive's declarations only: the library is loaded on first use by CArchiveLoader.
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CSeccomp", pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(
            name: "CCap", pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),

        // The code that runs between clone and exec: C, allocation-free.
        .target(name: "CRuntimeShim"),
        // HTTP through libcurl, loaded with dlopen on first use (not at every start of berth).
        .target(name: "CHTTP", linkerSettings: [.linkedLibrary("dl")]),
        // libarchive, loaded with dlopen on first use (not at every start of berth).
        .target(name: "CArchiveLoader", linkerSettings: [.linkedLibrary("dl")]),

        .target(name: "DockerfileSyntax"),
        .target(
            name: "OCIImage",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "ImageStore",
            dependencies: ["OCIImage", "CSQLite", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "LayerArchive",
            dependencies: [
                "OCIImage", "CArchive", "CArchiveLoader", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "Snapshots",
            dependencies: ["ImageStore", "OCIImage", "LayerArchive"]),
        .target(
            name: "ContainerRuntime",
            dependencies: ["CRuntimeShim", "CSeccomp", "CCap", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "BuildEngine",
            dependencies: [
                "DockerfileSyntax", "OCIImage", "ImageStore", "LayerArchive", "Snapshots",
                "ContainerRuntime", "CRuntimeShim", "Registry", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "Registry",
            dependencies: ["OCIImage", "ImageStore", "CHTTP"]),
        .executableTarget(
            name: "berth",
            dependencies: [
                "BuildEngine", "Registry", "ImageStore", "LayerArchive", "Snapshots", "ContainerRuntime",
                "OCIImage", "DockerfileSyntax", "CRuntimeShim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // A position-dependent executable: the loader has no relative relocations to apply
            // (about 97,000 in the PIE), so fewer pages are written and copied at every start.
            // Release only: it is meant with --static-swift-stdlib (`make release`); against the
            // shared libswiftCore of a debug build the loader warns about protected symbols.
            linkerSettings: [.unsafeFlags(["-Xclang-linker", "-no-pie"], .when(configuration: .release))]),

        .testTarget(name: "DockerfileSyntaxTests", dependencies: ["DockerfileSyntax"]),
        .testTarget(name: "OCIImageTests", dependencies: ["OCIImage"]),
        .testTarget(name: "ImageStoreTests", dependencies: ["ImageStore", "OCIImage"]),
        .testTarget(name: "LayerArchiveTests", dependencies: ["LayerArchive", "OCIImage", "CArchive"]),
        .testTarget(name: "SnapshotsTests", dependencies: ["Snapshots", "ImageStore"]),
        .testTarget(
            name: "ContainerRuntimeTests",
            dependencies: ["ContainerRuntime", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "BuildEngineTests", dependencies: ["BuildEngine", "DockerfileSyntax"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "OCIImage"]),
        .testTarget(
            name: "IntegrationTests", dependencies: ["OCIImage"],
            // C and Python helpers the tests compile or run; not part of the test target.
            exclude: ["Scripts"]),
    ]
)
