#include <cblas.h>
/* openblas_config.h: openblas_get_config, openblas_set_num_threads */
