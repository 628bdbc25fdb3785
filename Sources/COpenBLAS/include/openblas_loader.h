#ifndef HARMONIZE_OPENBLAS_LOADER_H
#define HARMONIZE_OPENBLAS_LOADER_H

/// OpenBLAS, loaded on first use (dlopen of Debian's libopenblas.so.0) with kernels chosen for the
/// CPU: see openblas_loader.c. Call hz_blas_load() once before the others; they do nothing (and
/// hz_blas_corename() answers "not loaded") until it has succeeded.

/// Loads the library (once; later calls return the first result): 0 on success, -1 on failure, with
/// the loader's message in hz_blas_error().
int hz_blas_load(void);
const char *hz_blas_error(void);

/// C += A B (row-major, no transposes): A is m x k, B is k x n, C is m x n; rows of B and C are
/// ldb and ldc floats apart (a block of columns of larger matrices).
void hz_sgemm_accumulate(int m, int n, int k, const float *a, const float *b, int ldb, float *c, int ldc);
/// y += A x (row-major): A is m x n.
void hz_sgemv_accumulate(int m, int n, const float *a, const float *x, float *y);
/// The library's thread pool size for each product.
void hz_blas_set_threads(int threads);

/// The kernels OpenBLAS runs ("SkylakeX", "Haswell", "Prescott", ...).
const char *hz_blas_corename(void);
/// The kernels this loader chose for the CPU ("SkylakeX", "Haswell"), or a null pointer where it left
/// OpenBLAS's own choice (OPENBLAS_CORETYPE was set, or the CPU has neither AVX-512 nor AVX2 + FMA).
const char *hz_blas_kernels_chosen(void);
/// What the CPU and the kernel's saved state allow: 2 for AVX-512 F/DQ/CD/BW/VL, 1 for AVX2 with FMA,
/// 0 for neither (or not x86-64).
int hz_cpu_vector_level(void);

#endif
