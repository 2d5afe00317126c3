// What the metrics JSON says about the device: model, SoC, OS and version, ABI; the process's peak RSS; clocks.
#pragma once
#include <string>

namespace edgeslm {
struct DeviceInfo {
  std::string model, soc, os, os_version, abi;
};
DeviceInfo device_info();
double peak_rss_mb();      // VmHWM of this process
double unix_seconds();     // CLOCK_REALTIME
double boottime_seconds(); // CLOCK_BOOTTIME (Perfetto's clock); 0 where there is none
}  // namespace edgeslm
