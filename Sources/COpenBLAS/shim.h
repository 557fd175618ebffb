#include <cblas.h>
/* OpenBLAS extensions: one threading policy, set explicitly by Loupe. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
/* LAPACK (bundled in OpenBLAS): symmetric eigen-decomposition, for PCA. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
