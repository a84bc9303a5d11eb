// oneDNN matmul primitives on the CPU engine, created once per shape and run many times.
#include "conednn.h"
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>

// GNU OpenMP, which Debian's oneDNN runs on: its thread count is per calling thread.
void omp_set_num_threads(int n);

struct tessera_matmul {
    dnnl_primitive_t primitive;
    dnnl_memory_t a, b, c;
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static pthread_once_t started = PTHREAD_ONCE_INIT;

static void start(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return;
    if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) stream = NULL;
}

int tessera_onednn_native_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

// A row-major (rows, cols) operand; transposed: stored (cols, rows), read down its columns.
static dnnl_status_t describe(dnnl_memory_desc_t *md, long rows, long cols, long ld, int transposed,
                              dnnl_data_type_t type) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {transposed ? 1 : ld, transposed ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides);
}

tessera_matmul *tessera_matmul_create(int bf16_inputs, int trans_a, int trans_b, long m, long n, long k,
                                      long lda, long ldb, long ldc, int accumulate, int threads) {
    pthread_once(&started, start);
    if (!stream) return NULL;
    omp_set_num_threads(threads);
    dnnl_data_type_t input = bf16_inputs ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t desc;
    if (describe(&a, m, k, lda, trans_a, input) || describe(&b, k, n, ldb, trans_b, input)
        || describe(&c, m, n, ldc, 0, dnnl_f32) || dnnl_matmul_desc_init(&desc, &a, &b, NULL, &c)) {
        return NULL;
    }
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t sum = NULL;
    dnnl_primitive_desc_t pd = NULL;
    tessera_matmul *matmul = calloc(1, sizeof *matmul);
    int ok = matmul && !dnnl_primitive_attr_create(&attr);
    if (ok && accumulate) {
        // c += a·b: the "sum" post-op adds what c held before.
        ok = !dnnl_post_ops_create(&sum) && !dnnl_post_ops_append_sum(sum, 1.0f)
             && !dnnl_primitive_attr_set_post_ops(attr, sum);
    }
    ok = ok && !dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL)
         && !dnnl_primitive_create(&matmul->primitive, pd)
         && !dnnl_memory_create(&matmul->a, &a, engine, DNNL_MEMORY_NONE)
         && !dnnl_memory_create(&matmul->b, &b, engine, DNNL_MEMORY_NONE)
         && !dnnl_memory_create(&matmul->c, &c, engine, DNNL_MEMORY_NONE);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (sum) dnnl_post_ops_destroy(sum);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        tessera_matmul_destroy(matmul);
        return NULL;
    }
    return matmul;
}

int tessera_matmul_run(tessera_matmul *matmul, const void *a, const void *b, float *c, int threads) {
    omp_set_num_threads(threads);
    dnnl_status_t status;
    if ((status = dnnl_memory_set_data_handle(matmul->a, (void *)a))
        || (status = dnnl_memory_set_data_handle(matmul->b, (void *)b))
        || (status = dnnl_memory_set_data_handle(matmul->c, c))) {
        return (int)status;
    }
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, matmul->a}, {DNNL_ARG_WEIGHTS, matmul->b}, {DNNL_ARG_DST, matmul->c}};
    if ((status = dnnl_primitive_execute(matmul->primitive, stream, 3, args))) return (int)status;
    return (int)dnnl_stream_wait(stream);
}

void tessera_matmul_destroy(tessera_matmul *matmul) {
    if (!matmul) return;
    if (matmul->primitive) dnnl_primitive_destroy(matmul->primitive);
    if (matmul->a) dnnl_memory_destroy(matmul->a);
    if (matmul->b) dnnl_memory_destroy(matmul->b);
    if (matmul->c) dnnl_memory_destroy(matmul->c);
    free(matmul);
}
