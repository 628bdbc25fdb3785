#ifndef HARMONIZE_ALLOCATOR_H
#define HARMONIZE_ALLOCATOR_H

/// Keeps glibc's malloc from holding on to freed memory in long runs (see allocator.c); a no-op
/// elsewhere. Call once, at the start of the process.
void harmonize_tune_allocator(void);

#endif
