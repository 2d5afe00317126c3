import Foundation
import Tokenizers

/// An opened bundle: manifest checked (sha256 of every file), tokenizer, generation settings, the decoder.
/// The generation loop mirrors edgeslm/generate.py: chat template when the model has one, prefill, then one
/// token at a time through the KV cache until an EOS id or the token budget.
public final class EdgeSLMBundle {
    public let folder: URL
    public let manifest: BundleManifest
    public let settings: GenerationSettings
    public let tokenizer: any Tokenizer
    public let decoder: CoreMLDecoder
    public let sampler: Sampler

    public init(folder: URL, checkIntegrity: Bool = true) async throws {
        self.folder = folder
        manifest = try BundleManifest.load(bundle: folder)
        if checkIntegrity {
            let changed = manifest.changedFiles(in: folder)
            guard changed.isEmpty else { throw EdgeSLMError.changedFiles(changed) }
        }
        settings = try GenerationSettings.load(bundle: folder)
        tokenizer = try await AutoTokenizer.from(modelFolder: folder)
        decoder = try await CoreMLDecoder(bundle: folder, maxPositions: settings.maxPositions)
        sampler = Sampler(settings: settings)
    }

    public func promptTokens(_ prompt: String) throws -> [Int] {
        if settings.hasChatTemplate {
            return try tokenizer.applyChatTemplate(messages: [["role": "user", "content": prompt]])
        }
        return tokenizer.encode(text: prompt)
    }

    /// Streams the answer as text pieces; stops at an EOS id, the budget, or the context limit.
    public func generate(prompt: String, maxNewTokens: Int = 256) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let ids = try promptTokens(prompt)
                    guard ids.count < settings.maxPositions else {
                        throw EdgeSLMError.promptTooLong(ids.count, settings.maxPositions)
                    }
                    decoder.reset()
                    var logits = try await decoder.prefill(ids)
                    let eos = Set(settings.eosTokenIds)
                    let budget = min(maxNewTokens, settings.maxPositions - ids.count)
                    var answer: [Int] = []
                    var shown = ""
                    for step in 0..<budget {
                        try Task.checkCancellation()
                        let token = sampler.next(logits)
                        if eos.contains(token) { break }
                        answer.append(token)
                        let text = tokenizer.decode(tokens: answer, skipSpecialTokens: true)
                        if text.hasPrefix(shown) && !text.hasSuffix("\u{FFFD}") {
                            continuation.yield(String(text.dropFirst(shown.count)))
                            shown = text
                        }
                        if step == budget - 1 { break }
                        logits = try await decoder.decode(token)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
