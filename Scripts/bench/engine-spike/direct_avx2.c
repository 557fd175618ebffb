/* The NCHWc direct convolution and FMA loop for AVX2 + FMA (ymm, 8 floats); see direct_kernel.h. */
#define VL 8
#include "direct_kernel.h"
