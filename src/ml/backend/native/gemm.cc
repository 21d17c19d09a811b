// Native GEMM and im2col/col2im for the tfjs wasm backend, working in place on the wasm heap
// (an ArrayBuffer passed from JS). The BLAS is found at run time (oneDNN's dnnl_sgemm, else OpenBLAS's
// cblas_sgemm); init() reports which, or null, and the JS side then keeps the pure-wasm kernels.
#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#include <malloc.h>
#include <math.h>

#include <algorithm>
#include <mutex>
#include <string>

typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                             int64_t, float, float*, int64_t);
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                               float*, int);
typedef void (*omp_set_num_threads_fn)(int);

static dnnl_sgemm_fn dnnl_sgemm = nullptr;
static cblas_sgemm_fn cblas_sgemm = nullptr;
static omp_set_num_threads_fn omp_set_threads = nullptr;
static std::string library;

static std::mutex load_mutex;

// Worker threads load the addon at the same time: the first caller resolves the library for all.
static bool load_blas() {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (dnnl_sgemm || cblas_sgemm) return true;
  const char* dnnl_names[] = {"libdnnl.so.3", "libdnnl.so.2", "libdnnl.so"};
  for (const char* name : dnnl_names) {
    void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    dnnl_sgemm = (dnnl_sgemm_fn)dlsym(handle, "dnnl_sgemm");
    if (dnnl_sgemm) {
      library = name;
      omp_set_threads = (omp_set_num_threads_fn)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
      if (!omp_set_threads) {
        void* gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (gomp) omp_set_threads = (omp_set_num_threads_fn)dlsym(gomp, "omp_set_num_threads");
      }
      return true;
    }
  }
  const char* blas_names[] = {"libopenblas.so.0", "libopenblas.so"};
  for (const char* name : blas_names) {
    void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    cblas_sgemm = (cblas_sgemm_fn)dlsym(handle, "cblas_sgemm");
    if (cblas_sgemm) {
      library = name;
      return true;
    }
  }
  return false;
}

// ---- argument helpers -------------------------------------------------------------------------

struct Args {
  napi_env env;
  napi_value argv[20];
  size_t argc = 20;
  bool ok = true;
  Args(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr); }
  int64_t i(size_t k) {
    double v = 0;
    if (k >= argc || napi_get_value_double(env, argv[k], &v) != napi_ok) ok = false;
    return (int64_t)v;
  }
  float f(size_t k) { return (float)i_d(k); }
  double i_d(size_t k) {
    double v = 0;
    if (k >= argc || napi_get_value_double(env, argv[k], &v) != napi_ok) ok = false;
    return v;
  }
  uint8_t* heap(size_t k, size_t* length) {
    void* data = nullptr;
    if (k >= argc || napi_get_arraybuffer_info(env, argv[k], &data, length) != napi_ok) ok = false;
    return (uint8_t*)data;
  }
};

static napi_value fail(napi_env env, const char* message) {
  napi_throw_error(env, nullptr, message);
  return nullptr;
}

// The arguments of a call whose first is the wasm heap: floats(k, count) is the float array at the byte
// offset that argument k holds; one outside the heap or misaligned turns ok false.
struct HeapArgs : Args {
  uint8_t* data = nullptr;
  size_t length = 0;
  HeapArgs(napi_env e, napi_callback_info info) : Args(e, info) { data = heap(0, &length); }
  float* floats(size_t k, int64_t count) { return floats_at(i(k), count); }
  float* floats_at(int64_t offset, int64_t count) {
    if (offset < 0 || (offset & 3) || (size_t)(offset + count * 4) > length) ok = false;
    return (float*)(data + offset);
  }
};

static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (dnnl_sgemm) {
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta,
                c, (int)ldc);
  }
}

// ---- exported functions -----------------------------------------------------------------------

// init() -> name of the BLAS library, or null when none could be loaded.
static napi_value Init(napi_env env, napi_callback_info info) {
  napi_value result;
  if (!load_blas()) {
    napi_get_null(env, &result);
    return result;
  }
  std::lock_guard<std::mutex> lock(load_mutex);
  napi_create_string_utf8(env, library.c_str(), library.size(), &result);
  return result;
}

// setThreads(n): OpenMP threads used by the calling thread's GEMMs.
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args args(env, info);
  int64_t n = args.i(0);
  if (omp_set_threads && n > 0) omp_set_threads((int)n);
  return nullptr;
}

// gemm(heap, transA, transB, M, N, K, alpha, aOffset, lda, bOffset, ldb, beta, cOffset, ldc); offsets in bytes.
static napi_value Gemm(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  bool ta = args.i(1) != 0, tb = args.i(2) != 0;
  int64_t m = args.i(3), n = args.i(4), k = args.i(5);
  float alpha = args.f(6);
  int64_t lda = args.i(8), ldb = args.i(10), ldc = args.i(13);
  float beta = args.f(11);
  const float* a = args.floats(7, (ta ? k : m) * lda);
  const float* b = args.floats(9, (tb ? n : k) * ldb);
  float* c = args.floats(12, m * ldc);
  if (!args.ok || !(dnnl_sgemm || cblas_sgemm)) return fail(env, "gemm: bad arguments or BLAS not loaded");
  gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return nullptr;
}

struct ConvGeometry {
  int64_t n, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow;
  int64_t rows() const { return n * oh * ow; }
  int64_t cols() const { return kh * kw * c; }
};

static ConvGeometry geometry(Args& args, size_t first) {
  ConvGeometry g;
  int64_t* fields[] = {&g.n, &g.h, &g.w, &g.c, &g.kh, &g.kw, &g.sh, &g.sw, &g.pt, &g.pl, &g.oh, &g.ow};
  for (size_t k = 0; k < 12; k++) *fields[k] = args.i(first + k);
  return g;
}

// im2col(heap, xOffset, N, H, W, C, KH, KW, SH, SW, padTop, padLeft, OH, OW, colsOffset):
// cols[(n*OH + oh)*OW + ow][(kh*KW + kw)*C + c] = x[n, oh*SH + kh - padTop, ow*SW + kw - padLeft, c] (0 outside).
static napi_value Im2col(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  ConvGeometry g = geometry(args, 2);
  const float* x = args.floats(1, g.n * g.h * g.w * g.c);
  float* cols = args.floats(14, g.rows() * g.cols());
  if (!args.ok) return fail(env, "im2col: bad arguments");
  float* out = cols;
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oh = 0; oh < g.oh; oh++)
      for (int64_t ow = 0; ow < g.ow; ow++)
        for (int64_t i = 0; i < g.kh; i++) {
          int64_t r = oh * g.sh + i - g.pt;
          for (int64_t j = 0; j < g.kw; j++, out += g.c) {
            int64_t col = ow * g.sw + j - g.pl;
            // Plain loops rather than memcpy/memset: with few channels (a first layer's 1 or 3) a library
            // call per tap cost more than the copy.
            if (r < 0 || r >= g.h || col < 0 || col >= g.w) {
              for (int64_t c = 0; c < g.c; c++) out[c] = 0.0f;
            } else {
              const float* source = x + ((b * g.h + r) * g.w + col) * g.c;
              for (int64_t c = 0; c < g.c; c++) out[c] = source[c];
            }
          }
        }
  return nullptr;
}

// col2im(heap, colsOffset, N, H, W, C, KH, KW, SH, SW, padTop, padLeft, OH, OW, dxOffset): the adjoint of
// im2col, dx = 0 then every column entry added back to the pixel it was copied from.
static napi_value Col2im(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  ConvGeometry g = geometry(args, 2);
  const float* cols = args.floats(1, g.rows() * g.cols());
  float* dx = args.floats(14, g.n * g.h * g.w * g.c);
  if (!args.ok) return fail(env, "col2im: bad arguments");
  memset(dx, 0, g.n * g.h * g.w * g.c * sizeof(float));
  // The same walk as im2col's; a shared template with the copy as a lambda measured a fifth slower.
  const float* in = cols;
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oh = 0; oh < g.oh; oh++)
      for (int64_t ow = 0; ow < g.ow; ow++)
        for (int64_t i = 0; i < g.kh; i++) {
          int64_t r = oh * g.sh + i - g.pt;
          for (int64_t j = 0; j < g.kw; j++, in += g.c) {
            int64_t col = ow * g.sw + j - g.pl;
            if (r < 0 || r >= g.h || col < 0 || col >= g.w) continue;
            float* target = dx + ((b * g.h + r) * g.w + col) * g.c;
            for (int64_t c = 0; c < g.c; c++) target[c] += in[c];
          }
        }
  return nullptr;
}

// biasActivation(heap, yOffset, rows, cols, biasOffset (-1: none), relu (0/1)): y = act(y + bias) in place.
static napi_value BiasActivation(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  int64_t rows = args.i(2), cols = args.i(3), biasOffset = args.i(4);
  bool relu = args.i(5) != 0;
  float* y = args.floats(1, rows * cols);
  const float* bias = biasOffset >= 0 ? args.floats_at(biasOffset, cols) : nullptr;
  if (!args.ok) return fail(env, "biasActivation: bad arguments");
  for (int64_t r = 0; r < rows; r++) {
    float* row = y + r * cols;
    if (bias)
      for (int64_t c = 0; c < cols; c++) row[c] += bias[c];
    if (relu)
      for (int64_t c = 0; c < cols; c++) row[c] = std::max(row[c], 0.0f);
  }
  return nullptr;
}

typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));

// 2x2 windows at stride 2 without padding do not overlap: each window writes its own four gradients, so
// no zero fill and no scatter, and the loop over channels vectorises. Same tie rule as the general path.
static void max_pool_grad_2x2(const ConvGeometry& g, const float* x, const float* dy, float* dx) {
  const int64_t c_count = g.c, row = g.w * g.c;
  if (g.h != 2 * g.oh || g.w != 2 * g.ow) memset(dx, 0, g.n * g.h * g.w * g.c * sizeof(float));
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oh = 0; oh < g.oh; oh++)
      for (int64_t ow = 0; ow < g.ow; ow++) {
        const int64_t base = ((b * g.h + 2 * oh) * g.w + 2 * ow) * g.c;
        const float* x00 = x + base;
        const float* x01 = x00 + c_count;
        const float* x10 = x00 + row;
        const float* x11 = x10 + c_count;
        float* d00 = dx + base;
        float* d01 = d00 + c_count;
        float* d10 = d00 + row;
        float* d11 = d10 + c_count;
        const float* grad = dy + ((b * g.oh + oh) * g.ow + ow) * g.c;
        int64_t c = 0;
        // Four channels at a time with GCC/Clang vector extensions (gcc does not if-convert the scalar
        // loop's chain of compares); the masks are all-ones where the comparison holds.
        for (; c + 4 <= c_count; c += 4) {
          f32x4 v0, v1, v2, v3, d;
          memcpy(&v0, x00 + c, sizeof v0);
          memcpy(&v1, x01 + c, sizeof v1);
          memcpy(&v2, x10 + c, sizeof v2);
          memcpy(&v3, x11 + c, sizeof v3);
          memcpy(&d, grad + c, sizeof d);
          f32x4 best = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
          const i32x4 m0 = v0 > best;
          best = m0 ? v0 : best;
          const i32x4 m1 = v1 > best;
          best = m1 ? v1 : best;
          const i32x4 m2 = v2 > best;
          best = m2 ? v2 : best;
          const i32x4 m3 = v3 > best;
          const f32x4 zero = {0, 0, 0, 0};
          const f32x4 o3 = m3 ? d : zero;
          const f32x4 o2 = (m2 & ~m3) ? d : zero;
          const f32x4 o1 = (m1 & ~m2 & ~m3) ? d : zero;
          const f32x4 o0 = (m0 & ~m1 & ~m2 & ~m3) ? d : zero;
          memcpy(d00 + c, &o0, sizeof o0);
          memcpy(d01 + c, &o1, sizeof o1);
          memcpy(d10 + c, &o2, sizeof o2);
          memcpy(d11 + c, &o3, sizeof o3);
        }
        for (; c < c_count; c++) {
          const float values[4] = {x00[c], x01[c], x10[c], x11[c]};
          float best = -INFINITY;
          int winner = -1;
          for (int k = 0; k < 4; k++)
            if (values[k] > best) {
              best = values[k];
              winner = k;
            }
          float* targets[4] = {d00 + c, d01 + c, d10 + c, d11 + c};
          for (int k = 0; k < 4; k++) *targets[k] = k == winner ? grad[c] : 0.0f;
        }
      }
}

// maxPoolGrad(heap, xOffset, dyOffset, dxOffset, N, H, W, C, KH, KW, SH, SW, padTop, padLeft, OH, OW):
// TensorFlow's semantics, each window's gradient to its first strict maximum in scan order.
static napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  ConvGeometry g = geometry(args, 4);
  const float* x = args.floats(1, g.n * g.h * g.w * g.c);
  const float* dy = args.floats(2, g.n * g.oh * g.ow * g.c);
  float* dx = args.floats(3, g.n * g.h * g.w * g.c);
  if (!args.ok) return fail(env, "maxPoolGrad: bad arguments");
  if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pt == 0 && g.pl == 0 && 2 * g.oh <= g.h &&
      2 * g.ow <= g.w) {
    max_pool_grad_2x2(g, x, dy, dx);
    return nullptr;
  }
  memset(dx, 0, g.n * g.h * g.w * g.c * sizeof(float));
  std::string scratch((size_t)g.c * (sizeof(float) + sizeof(int64_t)), '\0');
  float* best = (float*)&scratch[0];
  int64_t* best_at = (int64_t*)&scratch[g.c * sizeof(float)];
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oh = 0; oh < g.oh; oh++)
      for (int64_t ow = 0; ow < g.ow; ow++) {
        for (int64_t c = 0; c < g.c; c++) {
          best[c] = -INFINITY;
          best_at[c] = -1;
        }
        for (int64_t i = 0; i < g.kh; i++) {
          int64_t r = oh * g.sh + i - g.pt;
          if (r < 0 || r >= g.h) continue;
          for (int64_t j = 0; j < g.kw; j++) {
            int64_t col = ow * g.sw + j - g.pl;
            if (col < 0 || col >= g.w) continue;
            int64_t base = ((b * g.h + r) * g.w + col) * g.c;
            for (int64_t c = 0; c < g.c; c++) {
              float v = x[base + c];
              if (v > best[c]) {
                best[c] = v;
                best_at[c] = base + c;
              }
            }
          }
        }
        const float* grad = dy + ((b * g.oh + oh) * g.ow + ow) * g.c;
        for (int64_t c = 0; c < g.c; c++)
          if (best_at[c] >= 0) dx[best_at[c]] += grad[c];
      }
  return nullptr;
}

// sumRows(heap, xOffset, outer, rows, cols, outOffset, scale): out[o, c] = scale * sum over r of x[o, r, c]
// (double accumulators): a sum or mean over any contiguous run of axes.
static napi_value SumRows(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  int64_t outer = args.i(2), rows = args.i(3), cols = args.i(4);
  double scale = args.i_d(6);
  const float* x = args.floats(1, outer * rows * cols);
  float* out = args.floats(5, outer * cols);
  if (!args.ok) return fail(env, "sumRows: bad arguments");
  std::string scratch((size_t)cols * sizeof(double), '\0');
  double* acc = (double*)&scratch[0];
  for (int64_t o = 0; o < outer; o++) {
    std::fill(acc, acc + cols, 0.0);
    const float* block = x + o * rows * cols;
    for (int64_t r = 0; r < rows; r++) {
      const float* line = block + r * cols;
      for (int64_t c = 0; c < cols; c++) acc[c] += line[c];
    }
    float* target = out + o * cols;
    for (int64_t c = 0; c < cols; c++) target[c] = (float)(acc[c] * scale);
  }
  return nullptr;
}

// reluGrad(heap, dyOffset, yOffset, dxOffset, n): dx = y > 0 ? dy : 0, the gradient of relu from its output
// (PyTorch's threshold_backward), in one pass instead of step + cast + multiply.
static napi_value ReluGrad(napi_env env, napi_callback_info info) {
  HeapArgs args(env, info);
  int64_t n = args.i(4);
  const float* dy = args.floats(1, n);
  const float* y = args.floats(2, n);
  float* dx = args.floats(3, n);
  if (!args.ok) return fail(env, "reluGrad: bad arguments");
  // dy is read unconditionally so the select has no branch and vectorises.
  for (int64_t i = 0; i < n; i++) {
    const float d = dy[i];
    dx[i] = y[i] > 0.0f ? d : 0.0f;
  }
  return nullptr;
}

// mallocInUse() -> bytes the C heap has handed out and not had back (all arenas, mmapped blocks
// included), or -1 where glibc's mallinfo2 is missing: the native memory of an index, for benchmarks.
static napi_value MallocInUse(napi_env env, napi_callback_info info) {
  double bytes = -1;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 stats = mallinfo2();
  bytes = (double)stats.uordblks + (double)stats.hblkhd;
#endif
  napi_value result;
  napi_create_double(env, bytes, &result);
  return result;
}

NAPI_MODULE_INIT() {
  struct {
    const char* name;
    napi_callback fn;
  } functions[] = {{"init", Init},     {"setThreads", SetThreads}, {"gemm", Gemm},
                   {"im2col", Im2col}, {"col2im", Col2im},         {"biasActivation", BiasActivation},
                   {"maxPoolGrad", MaxPoolGrad}, {"sumRows", SumRows},
                   {"reluGrad", ReluGrad}, {"mallocInUse", MallocInUse}};
  for (auto& f : functions) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}
