#ifndef TESSERA_CBLAS_SHIM_H
#define TESSERA_CBLAS_SHIM_H
#include <cblas.h>
// Thread control, so that ranks sharing cores run one BLAS thread each unless told otherwise.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
#endif
