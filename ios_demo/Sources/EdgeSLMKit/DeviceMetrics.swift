import Foundation

/// The device metrics JSON of edgeslm/profile/metrics_schema.py (schema "edgeslm-device-metrics", version 1),
/// what `edgeslm profile --target ios` pulls back over `xcrun devicectl` and validates. tests/test_ios_demo.py
/// checks these CodingKeys against a Python port of `DeviceMetrics.make` that the schema validator accepts.
public struct DeviceMetrics: Encodable {
    public struct Device: Encodable {
        public let model: String
        public let soc: String
        public let os: String
        public let osVersion: String

        enum CodingKeys: String, CodingKey {
            case model
            case soc
            case os
            case osVersion = "os_version"
        }
    }

    public struct Runtime: Encodable {
        public let name: String
        public let version: String

        enum CodingKeys: String, CodingKey {
            case name
            case version
        }
    }

    public struct Settings: Encodable {
        public let promptLen: Int
        public let genLen: Int
        public let runs: Int
        public let warmup: Int
        public let threads: Int

        enum CodingKeys: String, CodingKey {
            case promptLen = "prompt_len"
            case genLen = "gen_len"
            case runs
            case warmup
            case threads
        }
    }

    public struct Run: Encodable {
        public let startUnixS: Double
        public let endUnixS: Double
        public let ttftMs: Double
        public let prefillMs: Double
        public let prefillTokPerS: Double
        public let decodeTokPerS: Double
        public let decodeMs: [Double]

        enum CodingKeys: String, CodingKey {
            case startUnixS = "start_unix_s"
            case endUnixS = "end_unix_s"
            case ttftMs = "ttft_ms"
            case prefillMs = "prefill_ms"
            case prefillTokPerS = "prefill_tok_per_s"
            case decodeTokPerS = "decode_tok_per_s"
            case decodeMs = "decode_ms"
        }
    }

    public let schema: String
    public let schemaVersion: Int
    public let device: Device
    public let runtime: Runtime
    public let settings: Settings
    public let loadMs: Double
    public let peakRssMb: Double
    public let runs: [Run]

    enum CodingKeys: String, CodingKey {
        case schema
        case schemaVersion = "schema_version"
        case device
        case runtime
        case settings
        case loadMs = "load_ms"
        case peakRssMb = "peak_rss_mb"
        case runs
    }

    public static let schemaName = "edgeslm-device-metrics"
    public static let version = 1

    /// One timed run from its raw timings; the rates are derived exactly as the validator re-derives them.
    public static func run(start: Date, end: Date, ttftMs: Double, prefillMs: Double, promptLen: Int,
                           decodeMs: [Double]) -> Run {
        Run(startUnixS: start.timeIntervalSince1970, endUnixS: end.timeIntervalSince1970, ttftMs: ttftMs,
            prefillMs: prefillMs, prefillTokPerS: Double(promptLen) / (prefillMs / 1000),
            decodeTokPerS: Double(decodeMs.count) / (decodeMs.reduce(0, +) / 1000), decodeMs: decodeMs)
    }

    public static func make(device: Device, runtime: Runtime, settings: Settings, loadMs: Double,
                            peakRssMb: Double, runs: [Run]) -> DeviceMetrics {
        DeviceMetrics(schema: schemaName, schemaVersion: version, device: device, runtime: runtime,
                      settings: settings, loadMs: loadMs, peakRssMb: peakRssMb, runs: runs)
    }

    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
