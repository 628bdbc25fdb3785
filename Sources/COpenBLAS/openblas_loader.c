// OpenBLAS picks its kernels once, when the library loads, from the CPU's model number, and
// Debian's 0.3.21 predates Sapphire Rapids and Zen 4/5: there it falls back to its generic SSE3
// kernels ("Prescott"), 3x slower on our network's products than its AVX-512 ones (issue 14).
// OPENBLAS_CORETYPE overrides the pick, but only when set before the library's constructor runs; a
// library linked into the executable runs it before main. So the engine loads OpenBLAS itself, on
// first use, after setting the variable from the CPU's features: AVX-512 -> SkylakeX (0.3.21's
// AVX-512 SGEMM; Cooperlake adds only bf16), AVX2 + FMA -> Haswell. On the CPUs it knows, OpenBLAS
// picks the same kernels; a value the user set is left alone. Runs that never use the network
// (--passthrough, --help) no longer load it, nor start its thread pool.
#define _GNU_SOURCE
#include "openblas_loader.h"
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xcr0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int hz_cpu_vector_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 0;
    const unsigned long long state = xcr0();
    if ((state & 0x6) != 0x6) return 0;                                  // the OS saves XMM and YMM
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int avx2 = (b >> 5) & 1;
    const unsigned avx512 = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);  // F DQ CD BW VL
    if ((b & avx512) == avx512 && (state & 0xe6) == 0xe6) return 2;     // and opmask and ZMM state
    return avx2 && fma ? 1 : 0;
}
#else
int hz_cpu_vector_level(void) { return 0; }
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int status = -1;
static char error[512];
static const char *chosen;
static __typeof__(cblas_sgemm) *sgemm;
static __typeof__(cblas_sgemv) *sgemv;
static __typeof__(openblas_set_num_threads) *set_threads;
static __typeof__(openblas_get_corename) *corename;

static void load(void) {
    if (!getenv("OPENBLAS_CORETYPE")) {
        switch (hz_cpu_vector_level()) {
        case 2: chosen = "SkylakeX"; break;
        case 1: chosen = "Haswell"; break;
        default: break;
        }
        if (chosen) setenv("OPENBLAS_CORETYPE", chosen, 0);
    }
    // The library binds 14,000 references to its own symbols (its kernel tables) when it loads.
    // Looked up in the global scope first, each walks the ~150 libraries FFmpeg and Foundation
    // brought: 40-70 ms of a still's run. Its own scope first (RTLD_DEEPBIND), 4-12 ms. The
    // sanitizers' runtimes refuse RTLD_DEEPBIND (it would bypass their interceptors); they are
    // looked for in the process, since a build may instrument the Swift code but not this file.
    const int sanitized = dlsym(RTLD_DEFAULT, "__asan_init") || dlsym(RTLD_DEFAULT, "__tsan_init")
        || dlsym(RTLD_DEFAULT, "__msan_init");
    const int scope = sanitized ? 0 : RTLD_DEEPBIND;
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL | scope);
    if (!lib) {
        snprintf(error, sizeof error, "cannot load OpenBLAS (%s; Debian's libopenblas0 provides it)", dlerror());
        chosen = 0;
        return;
    }
    sgemm = (__typeof__(sgemm))dlsym(lib, "cblas_sgemm");
    sgemv = (__typeof__(sgemv))dlsym(lib, "cblas_sgemv");
    set_threads = (__typeof__(set_threads))dlsym(lib, "openblas_set_num_threads");
    corename = (__typeof__(corename))dlsym(lib, "openblas_get_corename");
    if (!sgemm || !sgemv || !set_threads || !corename) {
        snprintf(error, sizeof error, "cannot load OpenBLAS: libopenblas.so.0 lacks cblas_sgemm, cblas_sgemv or openblas_*");
        chosen = 0;
        return;
    }
    status = 0;
}

int hz_blas_load(void) {
    pthread_once(&once, load);
    return status;
}

const char *hz_blas_error(void) { return error; }

void hz_sgemm_accumulate(int m, int n, int k, const float *a, const float *b, int ldb, float *c, int ldc) {
    if (sgemm) sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, ldb, 1, c, ldc);
}

void hz_sgemv_accumulate(int m, int n, const float *a, const float *x, float *y) {
    if (sgemv) sgemv(CblasRowMajor, CblasNoTrans, m, n, 1, a, n, x, 1, 1, y, 1);
}

void hz_blas_set_threads(int threads) {
    if (set_threads) set_threads(threads);
}

const char *hz_blas_corename(void) { return corename ? corename() : "not loaded"; }

const char *hz_blas_kernels_chosen(void) { return status == 0 ? chosen : 0; }
