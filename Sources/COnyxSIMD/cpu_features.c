// The CPU features the other files' loops need, checked once at run time.
#include "onyx_simd.h"

#if defined(__x86_64__)
int onyx_simd_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#endif
