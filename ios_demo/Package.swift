// swift-tools-version:5.10
// EdgeSLMKit: load an edgeslm Core ML bundle (manifest + sha256, tokenizer, iOS 18 MLState KV cache) and generate.
// The demo app (EdgeSLMDemo.swiftpm, open it in Xcode) depends on this package by path.
import PackageDescription

let package = Package(
    name: "EdgeSLMKit",
    platforms: [.iOS(.v18), .macOS(.v15)],
    products: [
        .library(name: "EdgeSLMKit", targets: ["EdgeSLMKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/huggingface/swift-transformers", from: "1.0.0"),
    ],
    targets: [
        .target(
            name: "EdgeSLMKit",
            dependencies: [.product(name: "Tokenizers", package: "swift-transformers")]
        ),
    ]
)
