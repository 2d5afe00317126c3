// Unicode Normalization Form C (UAX #15): canonical decomposition, canonical ordering, canonical composition.
#include <algorithm>

#include "unicode.h"

namespace edgeslm {
namespace {
struct Triple {
  uint32_t a, b, c;
};
#include "unicode_nfc_tables.inc"

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint32_t combining_class(uint32_t cp) {  // kCombiningClass: {first, last, class}
  auto it = std::upper_bound(std::begin(kCombiningClass), std::end(kCombiningClass), cp,
                             [](uint32_t v, const Triple &t) { return v < t.a; });
  return it != std::begin(kCombiningClass) && cp <= (it - 1)->b ? (it - 1)->c : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t> &out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  auto it = std::lower_bound(std::begin(kDecomposition), std::end(kDecomposition), cp,
                             [](const Triple &t, uint32_t v) { return t.a < v; });
  if (it == std::end(kDecomposition) || it->a != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->b, out);
  if (it->c) decompose(it->c, out);
}

uint32_t compose(uint32_t a, uint32_t b) {  // the primary composite of a + b, or 0
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  auto it = std::lower_bound(std::begin(kComposition), std::end(kComposition), Triple{a, b, 0},
                             [](const Triple &x, const Triple &y) { return x.a != y.a ? x.a < y.a : x.b < y.b; });
  return it != std::end(kComposition) && it->a == a && it->b == b ? it->c : 0;
}
}  // namespace

std::vector<uint32_t> nfc(const std::vector<uint32_t> &text) {
  std::vector<uint32_t> d;
  d.reserve(text.size());
  for (uint32_t cp : text) decompose(cp, d);
  // canonical ordering: each run of non-starters stably sorted by combining class
  std::vector<std::pair<uint32_t, uint32_t>> run;  // (class, code point)
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    run.clear();
    for (; j < d.size() && combining_class(d[j]) != 0; ++j) run.emplace_back(combining_class(d[j]), d[j]);
    std::stable_sort(run.begin(), run.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    for (size_t k = i; k < j; ++k) d[k] = run[k - i].second;
    i = j;
  }
  std::vector<uint32_t> out;
  out.reserve(d.size());
  size_t starter = 0;
  uint32_t last_class = 0;
  for (uint32_t ch : d) {
    uint32_t cls = combining_class(ch);
    if (out.empty()) {
      out.push_back(ch);
      last_class = cls ? 256 : 0;  // nothing composes with a leading non-starter
      continue;
    }
    uint32_t composite = compose(out[starter], ch);
    if (composite && (last_class < cls || last_class == 0)) {
      out[starter] = composite;
      continue;
    }
    if (cls == 0) starter = out.size();
    last_class = cls;
    out.push_back(ch);
  }
  return out;
}
}  // namespace edgeslm
