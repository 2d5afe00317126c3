import EdgeSLMKit
import SwiftUI

@main
struct EdgeSLMDemoApp: App {
    init() {
        // Benchmark mode (edgeslm profile --target ios): run, write the metrics JSON, exit with its status.
        do {
            if let options = try BenchmarkOptions.parse(CommandLine.arguments) {
                Task.detached {
                    do {
                        try await Benchmark.run(options)
                        exit(0)
                    } catch {
                        FileHandle.standardError.write(Data("benchmark failed: \(error.localizedDescription)\n".utf8))
                        exit(1)
                    }
                }
            }
        } catch {
            FileHandle.standardError.write(Data("\(error.localizedDescription)\n".utf8))
            exit(2)
        }
    }

    var body: some Scene {
        WindowGroup {
            ChatView()
        }
    }
}
