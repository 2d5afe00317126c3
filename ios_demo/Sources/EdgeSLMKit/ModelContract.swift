import CoreML

/// The I/O of an edgeslm Core ML package (edgeslm/backends/coreml/convert.py): one stateful ML program, iOS 18.
/// tests/test_ios_demo.py reads these names, types and shapes from this file and checks them against the
/// spec of a real exported .mlpackage, so a rename on either side fails CI.
public enum ModelContract {
    public static let modelDirectory = "model.mlpackage"

    /// Token ids of the new tokens: [1, S] int32, S flexible (1...max positions).
    public static let inputIds = "input_ids"
    public static let inputIdsType: MLMultiArrayDataType = .int32

    /// Additive mask, [1, 1, S, P + S] float16: 0 where query i (position P + i) sees key j, -inf where not.
    /// The model reads P (the cached length) as its width minus S.
    public static let causalMask = "causal_mask"
    public static let causalMaskType: MLMultiArrayDataType = .float16

    /// [1, S, vocab] float16: next-token logits for every new position.
    public static let logits = "logits"

    /// The KV cache, two MLState buffers of [layers, 1, kv heads, max positions, head dim] float16.
    public static let keyCache = "k_cache"
    public static let valueCache = "v_cache"

    public static func inputIdsShape(newTokens: Int) -> [Int] {
        [1, newTokens]
    }

    public static func causalMaskShape(past: Int, newTokens: Int) -> [Int] {
        [1, 1, newTokens, past + newTokens]
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
