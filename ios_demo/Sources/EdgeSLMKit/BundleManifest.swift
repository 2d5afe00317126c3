import CryptoKit
import Foundation

/// The part of an edgeslm bundle's manifest.json the app reads (edgeslm/bundle/manifest.py writes it).
public struct BundleManifest: Decodable {
    public struct FileRecord: Decodable {
        public let name: String
        public let sha256: String
        public let bytes: Int
    }

    public struct Verify: Decodable {
        public let passed: Bool
    }

    public let formatName: String
    public let schemaVersion: Int
    public let format: String
    public let verified: Bool
    public let files: [FileRecord]

    enum CodingKeys: String, CodingKey {
        case formatName = "format_name"
        case schemaVersion = "schema_version"
        case format
        case verified
        case files
    }

    public static let fileName = "manifest.json"
    public static let supportedSchemaVersion = 1

    public static func load(bundle: URL) throws -> BundleManifest {
        let data = try Data(contentsOf: bundle.appendingPathComponent(fileName))
        let manifest = try JSONDecoder().decode(BundleManifest.self, from: data)
        guard manifest.formatName == "edgeslm-bundle" else {
            throw EdgeSLMError.notABundle(bundle.path)
        }
        guard manifest.schemaVersion <= supportedSchemaVersion else {
            throw EdgeSLMError.newerSchema(manifest.schemaVersion)
        }
        guard manifest.format == "coreml" else {
            throw EdgeSLMError.wrongFormat(manifest.format)
        }
        return manifest
    }

    /// Names of the files whose sha256 no longer matches the manifest (or that are missing): a bundle
    /// that changed after export is not the one that was verified, and the app refuses it.
    public func changedFiles(in bundle: URL) -> [String] {
        files.filter { record in
            let url = bundle.appendingPathComponent(record.name)
            guard let digest = try? Self.sha256(of: url) else { return true }
            return digest != record.sha256
        }.map(\.name)
    }

    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

public enum EdgeSLMError: LocalizedError {
    case notABundle(String)
    case newerSchema(Int)
    case wrongFormat(String)
    case changedFiles([String])
    case missingFeature(String)
    case promptTooLong(Int, Int)

    public var errorDescription: String? {
        switch self {
        case .notABundle(let path):
            return "\(path) is not an edgeslm bundle (no manifest.json with format_name edgeslm-bundle)."
        case .newerSchema(let version):
            return "The bundle's manifest has schema version \(version); update the app."
        case .wrongFormat(let format):
            return "The bundle is a \(format) bundle; this app runs Core ML bundles (edgeslm export --target ios)."
        case .changedFiles(let names):
            return "The bundle changed after export (\(names.prefix(3).joined(separator: ", "))); re-export it."
        case .missingFeature(let name):
            return "The Core ML model has no feature \(name); re-export it with this edgeslm version."
        case .promptTooLong(let tokens, let limit):
            return "The prompt has \(tokens) tokens; this bundle serves at most \(limit)."
        }
    }
}
