#include "device_info.h"

#include <sys/utsname.h>
#include <time.h>

#include <fstream>
#include <string>

#ifdef __ANDROID__
#include <sys/system_properties.h>
#endif

namespace edgeslm {
namespace {
std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// The first "key : value" line of /proc/cpuinfo with that key.
std::string cpuinfo(const std::string &key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon != std::string::npos && trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return "";
}

#ifdef __ANDROID__
std::string prop(const char *name) {
  char value[PROP_VALUE_MAX] = {0};
  __system_property_get(name, value);
  return value;
}
#endif

std::string or_unknown(const std::string &s) { return s.empty() ? "unknown" : s; }
}  // namespace

DeviceInfo device_info() {
  DeviceInfo d;
  struct utsname u {};
  uname(&u);
#ifdef __ANDROID__
  d.os = "android";
  d.model = prop("ro.product.manufacturer") + " " + prop("ro.product.model");
  d.soc = prop("ro.soc.model");
  if (d.soc.empty()) d.soc = prop("ro.board.platform");
  d.os_version = prop("ro.build.version.release");
  d.abi = prop("ro.product.cpu.abi");
#else
  d.os = "linux";
  std::ifstream dt("/proc/device-tree/model");  // boards (Raspberry Pi, Jetson) name themselves here
  if (dt) std::getline(dt, d.model, '\0');
  if (d.model.empty()) d.model = u.nodename;
  d.soc = cpuinfo("model name");
  if (d.soc.empty()) d.soc = cpuinfo("Hardware");
  if (d.soc.empty()) d.soc = cpuinfo("CPU part").empty() ? "" : "CPU part " + cpuinfo("CPU part");
  d.os_version = u.release;
  std::string m = u.machine;
  d.abi = m == "aarch64" ? "arm64-v8a" : m;
#endif
  d.model = or_unknown(trim(d.model));
  d.soc = or_unknown(d.soc);
  d.os_version = or_unknown(d.os_version);
  d.abi = or_unknown(d.abi);
  return d;
}

double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}

static double clock_s(clockid_t id) {
  timespec ts{};
  if (clock_gettime(id, &ts) != 0) return 0;
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double unix_seconds() { return clock_s(CLOCK_REALTIME); }
double boottime_seconds() {
#ifdef CLOCK_BOOTTIME
  return clock_s(CLOCK_BOOTTIME);
#else
  return 0;
#endif
}
}  // namespace edgeslm
