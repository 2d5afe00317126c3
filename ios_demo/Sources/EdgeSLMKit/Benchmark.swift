import CoreML
import Darwin
import Foundation

/// The benchmark mode `edgeslm profile --target ios` launches (edgeslm/profile/ios.py, Devicectl.launch):
///   --benchmark --bundle Documents/edgeslm/<name> --prompt-len N --gen-len N --runs N --warmup N --threads N
///   --output Documents/edgeslm/<name>.metrics.json
/// Paths are relative to the app's data container (where `devicectl device copy to` put the bundle).
public struct BenchmarkOptions: Equatable {
    public var bundle: String
    public var output: String
    public var promptLen = 128
    public var genLen = 64
    public var runs = 3
    public var warmup = 1
    public var threads = 4

    /// nil when the launch arguments do not ask for the benchmark (the app then opens the chat).
    public static func parse(_ arguments: [String]) throws -> BenchmarkOptions? {
        guard arguments.contains("--benchmark") else { return nil }
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let key = arguments[i]
            if key.hasPrefix("--"), key != "--benchmark", i + 1 < arguments.count {
                values[key] = arguments[i + 1]
                i += 2
            } else {
                i += 1
            }
        }
        guard let bundle = values["--bundle"], let output = values["--output"] else {
            throw BenchmarkError.usage("--benchmark needs --bundle PATH and --output PATH")
        }
        var options = BenchmarkOptions(bundle: bundle, output: output)
        for (flag, keyPath) in [("--prompt-len", \BenchmarkOptions.promptLen), ("--gen-len", \.genLen),
                                ("--runs", \.runs), ("--warmup", \.warmup), ("--threads", \.threads)] {
            guard let text = values[flag] else { continue }
            guard let number = Int(text), number >= (flag == "--warmup" ? 0 : 1) else {
                throw BenchmarkError.usage("\(flag) must be a positive integer, got \(text)")
            }
            options[keyPath: keyPath] = number
        }
        return options
    }
}

public enum BenchmarkError: LocalizedError {
    case usage(String)

    public var errorDescription: String? {
        switch self {
        case .usage(let message): return message
        }
    }
}

public enum Benchmark {
    /// Loads the bundle, runs warmup + timed runs of a fixed prompt_len prefill and gen_len greedy decode
    /// steps (no EOS stop: every run decodes the same number of tokens), writes the metrics JSON.
    public static func run(_ options: BenchmarkOptions, home: URL = URL(fileURLWithPath: NSHomeDirectory())) async throws {
        let loadStart = Date()
        let bundle = try await EdgeSLMBundle(folder: home.appendingPathComponent(options.bundle))
        let loadMs = Date().timeIntervalSince(loadStart) * 1000
        let prompt = promptTokens(length: options.promptLen, bundle: bundle)
        var runs: [DeviceMetrics.Run] = []
        for index in 0..<(options.warmup + options.runs) {
            let run = try await timedRun(prompt: prompt, genLen: options.genLen, bundle: bundle)
            if index >= options.warmup {
                runs.append(run)
            }
        }
        let metrics = DeviceMetrics.make(
            device: deviceDescription(), runtime: .init(name: "coreml", version: osVersion()),
            settings: .init(promptLen: options.promptLen, genLen: options.genLen, runs: options.runs,
                            warmup: options.warmup, threads: options.threads),
            loadMs: loadMs, peakRssMb: peakFootprintMB(), runs: runs)
        try metrics.write(to: home.appendingPathComponent(options.output))
    }

    /// A prompt of exactly `length` tokens: the tokenized clinical sentence, repeated and cut.
    static func promptTokens(length: Int, bundle: EdgeSLMBundle) -> [Int] {
        let base = bundle.tokenizer.encode(text: "A 45-year-old man presents with crushing chest pain radiating to the left arm. ")
        var ids: [Int] = []
        while ids.count < length {
            ids += base
        }
        return Array(ids.prefix(length))
    }

    static func timedRun(prompt: [Int], genLen: Int, bundle: EdgeSLMBundle) async throws -> DeviceMetrics.Run {
        let decoder = bundle.decoder
        decoder.reset()
        let start = Date()
        let clock = ContinuousClock()
        let prefillStart = clock.now
        var logits = try await decoder.prefill(prompt)
        let prefillMs = milliseconds(clock.now - prefillStart)
        var token = bundle.sampler.next(logits)
        let ttftMs = milliseconds(clock.now - prefillStart)
        var decodeMs: [Double] = []
        for _ in 0..<genLen {
            let stepStart = clock.now
            logits = try await decoder.decode(token)
            token = bundle.sampler.next(logits)
            decodeMs.append(milliseconds(clock.now - stepStart))
        }
        return DeviceMetrics.run(start: start, end: Date(), ttftMs: ttftMs, prefillMs: prefillMs,
                                 promptLen: prompt.count, decodeMs: decodeMs)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
    }

    /// The app's physical footprint (what iOS's memory limit counts), in MB.
    static func peakFootprintMB() -> Double {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let result = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        guard result == KERN_SUCCESS else { return 0 }
        let peak = info.ledger_phys_footprint_peak > 0 ? info.ledger_phys_footprint_peak : info.phys_footprint
        return Double(peak) / (1024 * 1024)
    }

    static func machine() -> String {
        var system = utsname()
        uname(&system)
        return withUnsafeBytes(of: &system.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    static func osVersion() -> String {
        let v = ProcessInfo.processInfo.operatingSystemVersion
        return "\(v.majorVersion).\(v.minorVersion).\(v.patchVersion)"
    }

    /// iOS names the hardware only by its identifier (e.g. iPhone16,1); the SoC is looked up for the
    /// identifiers listed, and otherwise reported as the identifier itself.
    static func deviceDescription() -> DeviceMetrics.Device {
        let id = machine()
        let socs = ["iPhone15,4": "A16 Bionic", "iPhone15,5": "A16 Bionic", "iPhone16,1": "A17 Pro",
                    "iPhone16,2": "A17 Pro", "iPhone17,1": "A18 Pro", "iPhone17,2": "A18 Pro",
                    "iPhone17,3": "A18", "iPhone17,4": "A18"]
        return .init(model: id, soc: socs[id] ?? "unknown (\(id))", os: "ios", osVersion: osVersion())
    }
}
