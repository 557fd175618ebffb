/* The NCHWc direct convolution and FMA loop for AVX-512 (zmm, 16 floats); see direct_kernel.h. */
#define VL 16
#include "direct_kernel.h"
