import Foundation

/// Picks the next token the way the bundle's generation.json says: "greedy" is argmax (what `edgeslm run` and
/// the export's verification do); "sample" uses temperature and top-k when the settings carry them.
public struct Sampler {
    public let greedy: Bool
    public let temperature: Float
    public let topK: Int

    public init(settings: GenerationSettings) {
        greedy = settings.decoding == "greedy"
        temperature = Float(settings.temperature ?? 1.0)
        topK = settings.topK ?? 0
    }

    public func next(_ logits: [Float]) -> Int {
        if greedy || temperature <= 0 {
            return Self.argmax(logits)
        }
        var candidates = logits.indices.map { ($0, logits[$0] / temperature) }
        if topK > 0 && topK < candidates.count {
            candidates.sort { $0.1 > $1.1 }
            candidates = Array(candidates.prefix(topK))
        }
        let top = candidates.map(\.1).max() ?? 0
        let weights = candidates.map { exp($0.1 - top) }
        var r = Float.random(in: 0..<weights.reduce(0, +))
        for (candidate, weight) in zip(candidates, weights) {
            r -= weight
            if r <= 0 { return candidate.0 }
        }
        return candidates.last?.0 ?? 0
    }

    static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] {
            best = i
        }
        return best
    }
}
