// JNI bridge: org.edgeslm.demo.NativeEngine's `external fun`s onto the C API of runtime/include/edgeslm/engine.h.
// The engine handle travels to Kotlin as a jlong. Token streaming calls back NativeEngine.TokenListener.onToken.
#include <android/log.h>
#include <jni.h>

#include <cstring>
#include <string>

#include "edgeslm/engine.h"

#define LOG_TAG "edgeslm"

namespace {
edgeslm_engine *engine_of(jlong handle) { return reinterpret_cast<edgeslm_engine *>(handle); }

// GetStringUTFChars would give modified UTF-8 (an emoji as two encoded surrogates, which the tokenizer reads as
// U+FFFD): ask Java for standard UTF-8 bytes instead.
std::string to_string(JNIEnv *env, jstring s) {
  jclass string_class = env->GetObjectClass(s);
  jmethodID get_bytes = env->GetMethodID(string_class, "getBytes", "(Ljava/lang/String;)[B");
  jstring charset = env->NewStringUTF("UTF-8");
  auto bytes = static_cast<jbyteArray>(env->CallObjectMethod(s, get_bytes, charset));
  jsize n = env->GetArrayLength(bytes);
  std::string out(static_cast<size_t>(n), '\0');
  env->GetByteArrayRegion(bytes, 0, n, reinterpret_cast<jbyte *>(out.data()));
  env->DeleteLocalRef(bytes);
  env->DeleteLocalRef(charset);
  env->DeleteLocalRef(string_class);
  return out;
}

void throw_error(JNIEnv *env, const char *message) {
  __android_log_print(ANDROID_LOG_ERROR, LOG_TAG, "%s", message);
  env->ThrowNew(env->FindClass("java/lang/IllegalStateException"), message);
}

struct Stream {
  JNIEnv *env;
  jobject listener;
  jmethodID on_token;
};

// NewStringUTF wants modified UTF-8: build the Java string from UTF-16 instead, so emoji survive.
jstring utf8_to_jstring(JNIEnv *env, const char *text) {
  jbyteArray bytes = env->NewByteArray(static_cast<jsize>(strlen(text)));
  env->SetByteArrayRegion(bytes, 0, static_cast<jsize>(strlen(text)), reinterpret_cast<const jbyte *>(text));
  jclass string_class = env->FindClass("java/lang/String");
  jmethodID ctor = env->GetMethodID(string_class, "<init>", "([BLjava/lang/String;)V");
  jstring charset = env->NewStringUTF("UTF-8");
  auto out = static_cast<jstring>(env->NewObject(string_class, ctor, bytes, charset));
  env->DeleteLocalRef(bytes);
  env->DeleteLocalRef(charset);
  env->DeleteLocalRef(string_class);
  return out;
}

int on_token(void *user, int32_t token, const char *text) {
  auto *s = static_cast<Stream *>(user);
  jstring piece = utf8_to_jstring(s->env, text);
  jboolean keep_going = s->env->CallBooleanMethod(s->listener, s->on_token, static_cast<jint>(token), piece);
  s->env->DeleteLocalRef(piece);
  if (s->env->ExceptionCheck()) return 1;
  return keep_going ? 0 : 1;
}
}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_edgeslm_demo_NativeEngine_nativeOpen(JNIEnv *env, jclass, jstring bundle_dir,
                                                                       jint threads, jboolean verify_files) {
  edgeslm_open_options o = edgeslm_default_open_options();
  o.threads = threads;
  o.verify_files = verify_files ? 1 : 0;
  edgeslm_engine *e = edgeslm_open(to_string(env, bundle_dir).c_str(), &o);
  if (!e) throw_error(env, edgeslm_last_error());
  return reinterpret_cast<jlong>(e);
}

JNIEXPORT void JNICALL Java_org_edgeslm_demo_NativeEngine_nativeClose(JNIEnv *, jclass, jlong handle) {
  edgeslm_close(engine_of(handle));
}

JNIEXPORT jint JNICALL Java_org_edgeslm_demo_NativeEngine_nativeGenerate(
    JNIEnv *env, jclass, jlong handle, jstring prompt, jint max_new_tokens, jfloat temperature, jint top_k,
    jfloat top_p, jfloat repetition_penalty, jlong seed, jboolean chat_template, jobject listener) {
  edgeslm_sampling s = edgeslm_default_sampling();
  s.max_new_tokens = max_new_tokens;
  s.temperature = temperature;
  s.top_k = top_k;
  s.top_p = top_p;
  s.repetition_penalty = repetition_penalty;
  s.seed = static_cast<uint64_t>(seed);
  s.use_chat_template = chat_template ? 1 : 0;
  jclass cls = env->GetObjectClass(listener);
  Stream stream{env, listener, env->GetMethodID(cls, "onToken", "(ILjava/lang/String;)Z")};
  edgeslm_stats stats{};
  if (edgeslm_generate(engine_of(handle), to_string(env, prompt).c_str(), &s, on_token, &stream, &stats) != 0) {
    if (!env->ExceptionCheck()) throw_error(env, edgeslm_last_error());
    return -1;
  }
  return stats.generated_tokens;
}

JNIEXPORT void JNICALL Java_org_edgeslm_demo_NativeEngine_nativeBenchmark(JNIEnv *env, jclass, jlong handle,
                                                                          jint prompt_len, jint gen_len, jint runs,
                                                                          jint warmup, jint threads, jdouble load_ms,
                                                                          jstring output) {
  edgeslm_benchmark_settings s{prompt_len, gen_len, runs, warmup, threads, load_ms};
  if (edgeslm_benchmark(engine_of(handle), &s, to_string(env, output).c_str()) != 0)
    throw_error(env, edgeslm_last_error());
}

JNIEXPORT jstring JNICALL Java_org_edgeslm_demo_NativeEngine_nativeRuntimeVersion(JNIEnv *env, jclass) {
  return env->NewStringUTF(edgeslm_runtime_version());
}
}  // extern "C"
