// The edgeslm demo app: Kotlin, plain android.* views (no androidx), the native engine of ../runtime through JNI
// (CMake externalNativeBuild), ONNX Runtime from the onnxruntime-android AAR.
//
// Bundle: `adb push BUNDLE /sdcard/Android/data/org.edgeslm.demo/files/`, or pack one into the APK's assets with
//   ./gradlew packBundle -PedgeslmBundle=/path/to/bundle   (copied to src/main/assets/bundle/ before the build;
//   the app copies it to its files dir on first start, since ONNX Runtime opens the model by path)
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

val ortVersion = "1.29.0"
val ortNative = layout.buildDirectory.dir("onnxruntime-native")
val extractForNativeBuild: Configuration by configurations.creating

android {
    namespace = "org.edgeslm.demo"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        applicationId = "org.edgeslm.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
        ndk { abiFilters += listOf("arm64-v8a", "x86_64") }
        externalNativeBuild {
            cmake {
                arguments += listOf(
                    "-DORT_INCLUDE_DIR=${ortNative.get().asFile}/headers",
                    "-DORT_JNI_DIR=${ortNative.get().asFile}/jni",
                    "-DANDROID_STL=c++_shared",
                )
            }
        }
    }
    externalNativeBuild {
        cmake {
            path = file("src/main/cpp/CMakeLists.txt")
            version = "3.22.1"
        }
    }
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    // Packs libonnxruntime.so for every ABI into the APK; the C++ engine links against it.
    implementation("com.microsoft.onnxruntime:onnxruntime-android:$ortVersion")
    extractForNativeBuild("com.microsoft.onnxruntime:onnxruntime-android:$ortVersion")
}

// The AAR's headers/ and jni/<abi>/libonnxruntime.so, unpacked for CMake before any native build.
val extractOnnxRuntime by tasks.registering(Copy::class) {
    from({ extractForNativeBuild.files.map { zipTree(it) } })
    include("headers/**", "jni/**")
    into(ortNative)
}
tasks.matching { it.name.startsWith("configureCMake") || it.name.startsWith("buildCMake") }.configureEach {
    dependsOn(extractOnnxRuntime)
}

// ./gradlew packBundle -PedgeslmBundle=DIR: an edgeslm bundle into the APK's assets (assets/bundle/).
val packBundle by tasks.registering(Copy::class) {
    val bundle = providers.gradleProperty("edgeslmBundle")
    from(bundle.map { file(it) }) { exclude("*.metrics.json") }
    into("src/main/assets/bundle")
    doFirst {
        require(bundle.isPresent) { "pass -PedgeslmBundle=/path/to/bundle (the folder `edgeslm export -o` wrote)" }
        require(file(bundle.get()).resolve("manifest.json").isFile) { "${bundle.get()} holds no manifest.json" }
    }
}
