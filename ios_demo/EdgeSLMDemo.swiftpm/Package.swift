// swift-tools-version:5.10
// The demo app as an app package: open this folder (EdgeSLMDemo.swiftpm) in Xcode 16+, pick an iPhone with
// iOS 18, Run. The bundle identifier is what `edgeslm profile --target ios` expects (org.edgeslm.demo).
import AppleProductTypes
import PackageDescription

let package = Package(
    name: "EdgeSLMDemo",
    platforms: [.iOS("18.0")],
    products: [
        .iOSApplication(
            name: "EdgeSLM Demo",
            targets: ["EdgeSLMDemo"],
            bundleIdentifier: "org.edgeslm.demo",
            teamIdentifier: "",
            displayVersion: "0.1",
            bundleVersion: "1",
            appIcon: .placeholder(icon: .heart),
            accentColor: .presetColor(.blue),
            supportedDeviceFamilies: [.phone, .pad],
            supportedInterfaceOrientations: [.portrait, .landscapeRight, .landscapeLeft],
            additionalInfoPlistContentFilePath: "Info.plist"
        ),
    ],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "EdgeSLMDemo",
            dependencies: [.product(name: "EdgeSLMKit", package: "ios_demo")],
            path: "Sources"
        ),
    ]
)
