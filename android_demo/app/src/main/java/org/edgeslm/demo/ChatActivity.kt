package org.edgeslm.demo

import android.app.Activity
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean

/** The chat screen: a clinical disclaimer, the conversation streamed token by token, a prompt box. Plain views. */
class ChatActivity : Activity() {
    private val worker = Executors.newSingleThreadExecutor()
    private val main = Handler(Looper.getMainLooper())
    private val stop = AtomicBoolean(false)
    private var engine: NativeEngine? = null
    private var busy = false

    private lateinit var transcript: TextView
    private lateinit var scroll: ScrollView
    private lateinit var input: EditText
    private lateinit var send: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val pad = (12 * resources.displayMetrics.density).toInt()
        val disclaimer = TextView(this).apply {
            text = DISCLAIMER
            setPadding(pad, pad, pad, pad)
            setBackgroundColor(0xFFFFF3CD.toInt())
        }
        transcript = TextView(this).apply { setPadding(pad, pad, pad, pad); setTextIsSelectable(true) }
        scroll = ScrollView(this).apply { addView(transcript) }
        input = EditText(this).apply { hint = "Ask a health question"; minLines = 1; maxLines = 4 }
        send = Button(this).apply { text = "Send"; setOnClickListener { onSend() } }
        val row = LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            addView(input, LinearLayout.LayoutParams(0, LinearLayout.LayoutParams.WRAP_CONTENT, 1f))
            addView(send)
        }
        setContentView(LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            addView(disclaimer)
            addView(scroll, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, 0, 1f))
            addView(row)
        })
        loadEngine()
    }

    private fun loadEngine() {
        send.isEnabled = false
        transcript.text = "Loading the model…\n"
        worker.execute {
            val message = try {
                val bundle = BundleLocation.find(this)
                if (bundle == null) {
                    NO_BUNDLE
                } else {
                    engine = NativeEngine.open(bundle.absolutePath, threads = 4)
                    "Model: ${bundle.name} (ONNX Runtime ${NativeEngine.runtimeVersion})\n\n"
                }
            } catch (e: Exception) {
                "Could not open the bundle: ${e.message}\n"
            }
            main.post {
                transcript.text = message
                send.isEnabled = engine != null
            }
        }
    }

    private fun onSend() {
        if (busy) { stop.set(true); return }
        val prompt = input.text.toString().trim()
        val current = engine ?: return
        if (prompt.isEmpty()) return
        input.setText("")
        transcript.append("You: $prompt\n\nModel: ")
        busy = true
        stop.set(false)
        send.text = "Stop"
        worker.execute {
            val tail = try {
                current.generate(prompt, NativeEngine.Sampling(maxNewTokens = 256)) { _, text ->
                    if (text.isNotEmpty()) main.post { transcript.append(text); scrollDown() }
                    !stop.get()
                }
                "\n\n"
            } catch (e: Exception) {
                "\n[error: ${e.message}]\n\n"
            }
            main.post {
                transcript.append(tail)
                scrollDown()
                busy = false
                send.text = "Send"
            }
        }
    }

    private fun scrollDown() = scroll.post { scroll.fullScroll(View.FOCUS_DOWN) }

    override fun onDestroy() {
        stop.set(true)
        worker.execute { engine?.close(); engine = null }
        worker.shutdown()
        super.onDestroy()
    }

    companion object {
        const val DISCLAIMER = "For information only: this on-device model can be wrong and is not a medical " +
            "device. It does not diagnose or treat. In an emergency call your local emergency number; for " +
            "medical decisions ask a clinician."
        const val NO_BUNDLE = "No model bundle found. Push one with\n" +
            "  adb push BUNDLE /sdcard/Android/data/org.edgeslm.demo/files/\n" +
            "or pack one with ./gradlew packBundle -PedgeslmBundle=BUNDLE, then restart the app.\n"
    }
}
