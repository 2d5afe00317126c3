// Drives android_demo's NativeEngine (the app's Kotlin class, unchanged) on the JVM of the build machine, through the
// JNI bridge built for the host: args BUNDLE PROMPT_FILE (UTF-8) MAX_NEW_TOKENS CHAT(true|false). Prints the token
// ids on the first line and the streamed text, JSON-escaped, on the second.
import java.io.File
import org.edgeslm.demo.NativeEngine

fun main(args: Array<String>) {
    val tokens = mutableListOf<Int>()
    val text = StringBuilder()
    NativeEngine.open(args[0], threads = 1).use { engine ->
        val sampling = NativeEngine.Sampling(maxNewTokens = args[2].toInt(), chatTemplate = args[3].toBoolean())
        engine.generate(File(args[1]).readText(Charsets.UTF_8), sampling, NativeEngine.TokenListener { token, piece ->
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
