import CoreML
import Foundation

/// Prefill + decode over the stateful package: the KV cache lives in an MLState (iOS 18), so each call
/// feeds only the new tokens and the mask that says where they sit.
public final class CoreMLDecoder {
    public let model: MLModel
    public let maxPositions: Int
    private var state: MLState
    public private(set) var length = 0

    /// Compiles model.mlpackage (Core ML compiles packages on device; the compiled copy is cached by the OS
    /// for the app's lifetime) and checks its I/O against `ModelContract`.
    public init(bundle: URL, maxPositions: Int, computeUnits: MLComputeUnits = .all) async throws {
        let package = bundle.appendingPathComponent(ModelContract.modelDirectory)
        let compiled = try await MLModel.compileModel(at: package)
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits
        model = try await MLModel.load(contentsOf: compiled, configuration: configuration)
        try ModelContract.check(model.modelDescription)
        self.maxPositions = maxPositions
        state = model.makeState()
    }

    /// A zeroed cache: the next call starts a new sequence.
    public func reset() {
        state = model.makeState()
        length = 0
    }

    /// Logits of the last prompt position, [vocab] as Float.
    public func prefill(_ tokens: [Int]) async throws -> [Float] {
        try await step(tokens)
    }

    public func decode(_ token: Int) async throws -> [Float] {
        try await step([token])
    }

    private func step(_ tokens: [Int]) async throws -> [Float] {
        guard length + tokens.count <= maxPositions else {
            throw EdgeSLMError.promptTooLong(length + tokens.count, maxPositions)
        }
        let ids = try MLMultiArray(shape: ModelContract.inputIdsShape(newTokens: tokens.count).map { NSNumber(value: $0) },
                                   dataType: ModelContract.inputIdsType)
        for (i, token) in tokens.enumerated() {
            ids[i] = NSNumber(value: Int32(token))
        }
        let mask = try Self.causalMask(past: length, newTokens: tokens.count)
        let features = try MLDictionaryFeatureProvider(dictionary: [
            ModelContract.inputIds: MLFeatureValue(multiArray: ids),
            ModelContract.causalMask: MLFeatureValue(multiArray: mask),
        ])
        let output = try await model.prediction(from: features, using: state)
        guard let logits = output.featureValue(for: ModelContract.logits)?.multiArrayValue else {
            throw EdgeSLMError.missingFeature(ModelContract.logits)
        }
        length += tokens.count
        return Self.lastRow(logits)
    }

    /// Zeros whose width tells the model the position (ModelContract.causalMaskShape); causality is in the graph.
    static func causalMask(past: Int, newTokens: Int) throws -> MLMultiArray {
        let shape = ModelContract.causalMaskShape(past: past, newTokens: newTokens)
        let mask = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: ModelContract.causalMaskType)
        mask.withUnsafeMutableBufferPointer(ofType: Float16.self) { buffer, _ in
            for i in 0..<buffer.count {
                buffer[i] = 0
            }
        }
        return mask
    }

    /// The logits [1, S, vocab] (float16) -> the last position's row as Float.
    static func lastRow(_ logits: MLMultiArray) -> [Float] {
        let vocab = logits.shape[2].intValue
        let rows = logits.shape[1].intValue
        let rowStride = logits.strides[1].intValue
        let start = (rows - 1) * rowStride
        var out = [Float](repeating: 0, count: vocab)
        logits.withUnsafeBufferPointer(ofType: Float16.self) { buffer in
            for v in 0..<vocab {
                out[v] = Float(buffer[start + v])
            }
        }
        return out
    }
}
