#include <cblas.h>
/* OpenBLAS extensions: one threading policy, set explicitly by Loupe. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
