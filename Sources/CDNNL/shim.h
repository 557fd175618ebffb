/* oneDNN 2.6 (Debian's libdnnl-dev): convolution primitives for LoupeTensor/OneDNN.swift,
 * the only Swift file that imports this module. Debian ships no pkg-config file for it, so
 * the module map links `dnnl` directly. */
#include <dnnl.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* DNNL_MEMORY_ALLOCATE is a pointer macro Swift cannot import. */
static inline void *loupe_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

/* What Loupe's dispatch needs to know about the CPU, from CPUID and XGETBV (the OS must save
 * the vector registers, or the instructions fault):
 *   bit 0: SSE4.1
 *   bit 1: AVX2 and FMA, with YMM state enabled by the OS
 *   bit 2: AVX-512 F, CD, BW, DQ and VL (oneDNN's avx512_core), with ZMM state enabled. */
static inline unsigned loupe_cpu_features(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0, features = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned ecx1 = c;
    if (ecx1 & (1u << 19)) features |= 1u;
    const int osxsave = (ecx1 >> 27) & 1, avx = (ecx1 >> 28) & 1, fma = (ecx1 >> 12) & 1;
    if (!osxsave || !avx) return features;
    unsigned xlo = 0, xhi = 0;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const int ymm = (xlo & 0x6u) == 0x6u, zmm = (xlo & 0xE6u) == 0xE6u;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return features;
    const unsigned ebx7 = b;
    if (ymm && fma && (ebx7 & (1u << 5))) features |= 2u;
    const unsigned avx512core = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    if (zmm && (features & 2u) && (ebx7 & avx512core) == avx512core) features |= 4u;
    return features;
#else
    return 0;
#endif
}
