/* edgeslm native engine: the C API that the edgeslm-runner CLI and the Android app (through JNI) both call.
 *
 * One engine = one opened bundle (manifest.json checked, every listed file's sha256 verified, generation.json,
 * tokenizer.json, model.onnx in an ONNX Runtime session) plus its KV cache. Not thread-safe: one generation at a
 * time per engine. Every function that can fail returns NULL / a negative value and leaves a message that
 * edgeslm_last_error() returns (per thread).
 */
#ifndef EDGESLM_ENGINE_H
#define EDGESLM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edgeslm_engine edgeslm_engine;

typedef struct {
  int threads;          /* ONNX Runtime intra-op threads; 0 = ONNX Runtime's default (all cores) */
  int verify_files;     /* 1: refuse a bundle whose files do not match the manifest's sha256 (recommended) */
} edgeslm_open_options;

typedef struct {
  int max_new_tokens;        /* budget; also capped by the bundle's max_positions */
  float temperature;         /* <= 0: greedy (argmax) */
  int top_k;                 /* 0: off */
  float top_p;               /* 1.0: off */
  float repetition_penalty;  /* 1.0: off (HF semantics: divide positive logits, multiply negative ones) */
  uint64_t seed;             /* sampling seed */
  int use_chat_template;     /* 1: wrap the prompt as one user message in the bundle's chat template */
} edgeslm_sampling;

typedef struct {
  int prompt_tokens;
  int generated_tokens;   /* not counting the EOS token */
  int stopped_at_eos;
  double prefill_ms;      /* the prefill call alone */
  double ttft_ms;         /* prompt in -> first token chosen (tokenization + prefill + sampling) */
  double decode_ms_total; /* sum of the per-token decode calls */
} edgeslm_stats;

/* Called for every generated token (EOS excluded): its id and the newly complete UTF-8 text (may be empty while
 * a multi-byte character is still incomplete; special tokens give empty text). Return non-zero to stop. */
typedef int (*edgeslm_token_callback)(void *user, int32_t token, const char *text);

edgeslm_open_options edgeslm_default_open_options(void);
edgeslm_sampling edgeslm_default_sampling(void); /* greedy, 128 tokens, chat template on */

edgeslm_engine *edgeslm_open(const char *bundle_dir, const edgeslm_open_options *options);
void edgeslm_close(edgeslm_engine *engine);
const char *edgeslm_last_error(void);
const char *edgeslm_runtime_version(void); /* ONNX Runtime's version string */

/* Text generation: tokenize (+ chat template), prefill, decode until EOS or the budget. 0 on success. */
int edgeslm_generate(edgeslm_engine *engine, const char *prompt, const edgeslm_sampling *sampling,
                     edgeslm_token_callback callback, void *user, edgeslm_stats *stats);

/* Tokenizer: ids of `text` (no special tokens added); returns the count (may exceed capacity: call again with
 * a bigger buffer), or -1. */
int edgeslm_tokenize(edgeslm_engine *engine, const char *text, int32_t *ids, int capacity);
/* The prompt's ids as edgeslm_generate feeds them (chat template when use_chat_template and the bundle has one);
 * returns the count, or -1. */
int edgeslm_prompt_ids(edgeslm_engine *engine, const char *prompt, int use_chat_template, int32_t *ids, int capacity);
/* Decoded text of ids (special tokens skipped); returns the byte length written without the NUL, or -1. The
 * result is truncated to capacity-1 bytes. */
int edgeslm_detokenize(edgeslm_engine *engine, const int32_t *ids, int count, char *out, int capacity);

/* Low level, for benchmarks and logit checks: reset the KV cache, run a prompt, then single tokens. The logits
 * of the last position (vocab_size floats) stay valid until the next call. */
int edgeslm_vocab_size(edgeslm_engine *engine);
int edgeslm_max_positions(edgeslm_engine *engine);
void edgeslm_reset(edgeslm_engine *engine);
const float *edgeslm_prefill(edgeslm_engine *engine, const int32_t *ids, int count);
const float *edgeslm_decode(edgeslm_engine *engine, int32_t token);
int edgeslm_is_eos(edgeslm_engine *engine, int32_t token);

/* Benchmark mode (the runner contract of edgeslm/profile/android.py): `warmup` untimed and `runs` timed greedy
 * answers of gen_len tokens to a prompt_len-token prompt (a fixed clinical text, repeated), written to
 * output_path as the metrics JSON of edgeslm/profile/metrics_schema.py. load_ms: how long edgeslm_open took. */
typedef struct {
  int prompt_len, gen_len, runs, warmup, threads;
  double load_ms;
} edgeslm_benchmark_settings;
int edgeslm_benchmark(edgeslm_engine *engine, const edgeslm_benchmark_settings *settings, const char *output_path);

#ifdef __cplusplus
}
#endif
#endif
