import CoreML

/// The I/O of an edgeslm Core ML package (edgeslm/backends/coreml/contract.py): one stateful ML program, iOS 18, in
/// the convention of swift-transformers' LanguageModelWithStatefulKVCache (so its apps load the package too).
/// tests/test_ios_demo.py reads these names, types and shapes from this file and checks them against the
/// spec of a real exported .mlpackage, so a rename on either side fails CI.
public enum ModelContract {
    public static let modelDirectory = "model.mlpackage"

    /// Token ids of the new tokens: [1, S] int32, S flexible (1...max positions).
    public static let inputIds = "inputIds"
    public static let inputIdsType: MLMultiArrayDataType = .int32

    /// [1, 1, 1, P + S + 1] float16 zeros: the model reads only its width, P (the cached length) = width - S - 1,
    /// and builds the causal mask itself (swift-transformers feeds the same).
    public static let causalMask = "causalMask"
    public static let causalMaskType: MLMultiArrayDataType = .float16

    /// [1, S, vocab] float16: next-token logits for every new position.
    public static let logits = "logits"

    /// The KV cache, two MLState buffers of [layers, 1, kv heads, max positions, head dim] float16.
    public static let keyCache = "keyCache"
    public static let valueCache = "valueCache"

    public static func inputIdsShape(newTokens: Int) -> [Int] {
        [1, newTokens]
    }

    public static func causalMaskShape(past: Int, newTokens: Int) -> [Int] {
        [1, 1, 1, past + newTokens + 1]
    }

    /// Refuse a model whose description does not carry the features this contract names.
    public static func check(_ description: MLModelDescription) throws {
        for name in [inputIds, causalMask] where description.inputDescriptionsByName[name] == nil {
            throw EdgeSLMError.missingFeature(name)
        }
        if description.outputDescriptionsByName[logits] == nil {
            throw EdgeSLMError.missingFeature(logits)
        }
        for name in [keyCache, valueCache] where description.stateDescriptionsByName[name] == nil {
            throw EdgeSLMError.missingFeature(name)
        }
    }
}
