// Host stand-in for the NDK's <android/log.h>, so that android_demo's JNI bridge compiles for the JVM on Linux
// (tests/test_android_jni_host.py): the same printf-style call, to stderr.
#pragma once
#include <cstdarg>
#include <cstdio>

enum { ANDROID_LOG_DEBUG = 3, ANDROID_LOG_INFO = 4, ANDROID_LOG_WARN = 5, ANDROID_LOG_ERROR = 6 };

inline int __android_log_print(int, const char *tag, const char *fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "%s: ", tag);
  int n = std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
  return n;
}
