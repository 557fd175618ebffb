/* FFTW 3, single precision (Debian's libfftw3-dev): t-SNE's FFT-accelerated interpolation. */
#include <fftw3.h>
