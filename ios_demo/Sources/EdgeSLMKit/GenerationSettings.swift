import Foundation

/// generation.json beside the model (edgeslm/pipeline/generation.py): eos ids, limits, decoding mode.
public struct GenerationSettings: Decodable {
    public let eosTokenIds: [Int]
    public let bosTokenId: Int?
    public let padTokenId: Int?
    public let hasChatTemplate: Bool
    public let maxPositions: Int
    public let decoding: String
    public let temperature: Double?
    public let topK: Int?

    enum CodingKeys: String, CodingKey {
        case eosTokenIds = "eos_token_ids"
        case bosTokenId = "bos_token_id"
        case padTokenId = "pad_token_id"
        case hasChatTemplate = "has_chat_template"
        case maxPositions = "max_positions"
        case decoding
        case temperature
        case topK = "top_k"
    }

    public static let fileName = "generation.json"

    public static func load(bundle: URL) throws -> GenerationSettings {
        let data = try Data(contentsOf: bundle.appendingPathComponent(fileName))
        return try JSONDecoder().decode(GenerationSettings.self, from: data)
    }
}
