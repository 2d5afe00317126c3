// Drives android_demo's NativeEngine (the app's Kotlin class, unchanged) on the JVM of the build machine, through the
// JNI bridge built for the host: args BUNDLE PROMPT MAX_NEW_TOKENS CHAT(true|false). Prints the token ids on the
// first line and the streamed text, as JSON-escaped UTF-8, on the second.
import org.edgeslm.demo.NativeEngine

fun main(args: Array<String>) {
    val tokens = mutableListOf<Int>()
    val text = StringBuilder()
    NativeEngine.open(args[0], threads = 1).use { engine ->
        val sampling = NativeEngine.Sampling(maxNewTokens = args[2].toInt(), chatTemplate = args[3].toBoolean())
        engine.generate(args[1], sampling, NativeEngine.TokenListener { token, piece ->
            tokens.add(token)
            text.append(piece)
            true
        })
    }
    println(tokens.joinToString(","))
    val escaped = text.toString().codePoints().toArray().joinToString("") { cp ->
        if (cp in 0x20..0x7E && cp != '"'.code && cp != '\\'.code) cp.toChar().toString()
        else Character.toChars(cp).joinToString("") { "\\u%04x".format(it.code) }
    }
    println("\"$escaped\"")
}
