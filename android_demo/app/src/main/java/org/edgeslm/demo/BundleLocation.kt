package org.edgeslm.demo

import android.content.Context
import java.io.File

/**
 * Where the app finds its bundle: a folder under the app's external files dir that `adb push` filled
 * (/sdcard/Android/data/org.edgeslm.demo/files/<name>/), else the bundle packed into the APK's assets by
 * `./gradlew packBundle`, copied once into the internal files dir (ONNX Runtime opens the model by path).
 */
object BundleLocation {
    private const val ASSET_DIR = "bundle"

    fun find(context: Context): File? {
        val pushed = context.getExternalFilesDir(null)?.listFiles()
            ?.filter { File(it, "manifest.json").isFile }
            ?.maxByOrNull { it.lastModified() }
        return pushed ?: fromAssets(context)
    }

    private fun fromAssets(context: Context): File? {
        val names = context.assets.list(ASSET_DIR) ?: return null
        if ("manifest.json" !in names) return null
        val target = File(context.filesDir, ASSET_DIR)
        if (!File(target, "manifest.json").isFile) {
            target.mkdirs()
            for (name in names) {
                context.assets.open("$ASSET_DIR/$name").use { input ->
                    File(target, name).outputStream().use { input.copyTo(it) }
                }
            }
        }
        return target
    }
}
