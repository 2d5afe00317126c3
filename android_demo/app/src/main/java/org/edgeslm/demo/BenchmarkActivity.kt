package org.edgeslm.demo

import android.app.Activity
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.widget.TextView
import java.io.File

/**
 * Benchmark mode, started by `edgeslm profile BUNDLE --target android` over adb:
 *
 *   am start -W -n org.edgeslm.demo/.BenchmarkActivity --es bundle DIR --ei prompt_len N --ei gen_len N
 *      --ei runs N --ei warmup N --ei threads N --es output FILE
 *
 * It runs the same native benchmark as edgeslm-runner (edgeslm_benchmark) on a worker thread and writes FILE (the
 * metrics JSON of edgeslm/profile/metrics_schema.py) whole, then renamed into place, so the host never pulls a
 * half-written file; on failure it writes FILE.error with the message. Then the activity finishes.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this).apply { text = "edgeslm benchmark running… keep the screen on." }
        setContentView(status)
        val extras = intent.extras
        val bundle = extras?.getString("bundle")
        val output = extras?.getString("output")
        if (bundle == null || output == null) {
            status.text = "Missing extras: --es bundle DIR --es output FILE are required."
            return
        }
        val promptLen = extras.getInt("prompt_len", 128)
        val genLen = extras.getInt("gen_len", 64)
        val runs = extras.getInt("runs", 3)
        val warmup = extras.getInt("warmup", 1)
        val threads = extras.getInt("threads", 4)
        Thread {
            val result = File(output)
            val partial = File("$output.part")
            val message = try {
                val start = SystemClock.elapsedRealtimeNanos()
                NativeEngine.open(bundle, threads).use { engine ->
                    val loadMs = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
                    engine.benchmark(promptLen, genLen, runs, warmup, threads, loadMs, partial.absolutePath)
                }
                check(partial.renameTo(result)) { "cannot rename $partial to $result" }
                "done: $output"
            } catch (e: Throwable) {
                Log.e(TAG, "benchmark failed", e)
                File("$output.error").writeText("${e.javaClass.simpleName}: ${e.message}\n")
                "failed: ${e.message}"
            }
            runOnUiThread {
                status.text = message
                finish()
            }
        }.start()
    }

    companion object {
        private const val TAG = "edgeslm"
    }
}
