package org.edgeslm.demo

/**
 * The edgeslm native engine (runtime/, C API edgeslm/engine.h) through JNI (src/main/cpp/jni_bridge.cpp).
 * One instance = one opened bundle; not thread-safe: call it from one worker thread.
 */
class NativeEngine private constructor(private var handle: Long) : AutoCloseable {

    /** Receives every generated token with its newly complete text; return false to stop. */
    fun interface TokenListener {
        fun onToken(token: Int, text: String): Boolean
    }

    data class Sampling(
        val maxNewTokens: Int = 256,
        val temperature: Float = 0f, // 0: greedy
        val topK: Int = 0,
        val topP: Float = 1f,
        val repetitionPenalty: Float = 1f,
        val seed: Long = 0,
        val chatTemplate: Boolean = true,
    )

    fun generate(prompt: String, sampling: Sampling, listener: TokenListener): Int =
        nativeGenerate(
            live(), prompt, sampling.maxNewTokens, sampling.temperature, sampling.topK, sampling.topP,
            sampling.repetitionPenalty, sampling.seed, sampling.chatTemplate, listener,
        )

    /** The runner contract's benchmark, written as the metrics JSON of edgeslm/profile/metrics_schema.py. */
    fun benchmark(promptLen: Int, genLen: Int, runs: Int, warmup: Int, threads: Int, loadMs: Double, output: String) =
        nativeBenchmark(live(), promptLen, genLen, runs, warmup, threads, loadMs, output)

    override fun close() {
        if (handle != 0L) nativeClose(handle)
        handle = 0L
    }

    private fun live(): Long {
        check(handle != 0L) { "the engine is closed" }
        return handle
    }

    companion object {
        init {
            System.loadLibrary("onnxruntime")
            System.loadLibrary("edgeslm_jni")
        }

        /** Opens the bundle folder (manifest sha256 check of every file when [verifyFiles]). */
        fun open(bundleDir: String, threads: Int = 4, verifyFiles: Boolean = true): NativeEngine =
            NativeEngine(nativeOpen(bundleDir, threads, verifyFiles))

        val runtimeVersion: String get() = nativeRuntimeVersion()

        @JvmStatic private external fun nativeOpen(bundleDir: String, threads: Int, verifyFiles: Boolean): Long
        @JvmStatic private external fun nativeClose(handle: Long)
        @JvmStatic private external fun nativeGenerate(
            handle: Long, prompt: String, maxNewTokens: Int, temperature: Float, topK: Int, topP: Float,
            repetitionPenalty: Float, seed: Long, chatTemplate: Boolean, listener: TokenListener,
        ): Int
        @JvmStatic private external fun nativeBenchmark(
            handle: Long, promptLen: Int, genLen: Int, runs: Int, warmup: Int, threads: Int, loadMs: Double,
            output: String,
        )
        @JvmStatic private external fun nativeRuntimeVersion(): String
    }
}
