/* fuzz_model.c - libFuzzer target for the model reader (clmlp_model_load and, through it, the
 * chunked container reader).
 *
 * The input is the file. A file ends with an END chunk holding the CRC-32 of everything before
 * it, so nearly every mutation would stop at the checksum and the chunk parsers behind it would
 * go unexplored; when the last 16 bytes look like an END chunk ("END ", length 4) the CRC is
 * recomputed before the file is written. The mismatch path is a single comparison, covered by
 * tests/test_model_io.c.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"
#include "model_io.h"

static const unsigned char end_head[12] = {'E', 'N', 'D', ' ', 4, 0, 0, 0, 0, 0, 0, 0};

static void model_check_loaded(const clmlp_net *net, const clmlp_model_meta *m)
{
    FUZZ_CHECK(net && net->params && net->n_layers >= 1 && net->n_layers <= CLMLP_MAX_LAYERS,
               "model: success without a network");
    if (m) {
        FUZZ_CHECK(memchr(m->device, '\0', sizeof m->device) != NULL, "model: device name");
        FUZZ_CHECK(m->norm_dim == 0 || m->norm_dim == net->sizes[0], "model: norm width %zu",
                   m->norm_dim);
        FUZZ_CHECK(m->norm_dim == 0 || (m->norm_mean && m->norm_std), "model: norm arrays");
        for (size_t k = 0; k < m->norm_dim; k++)
            FUZZ_CHECK(isfinite(m->norm_mean[k]) && isfinite(m->norm_std[k]) &&
                           m->norm_std[k] >= 0, "model: bad norm value %zu", k);
    }
    /* clmlp_model_save promises to refuse only what a load refuses, so whatever loaded must
     * serialise again (in memory: no fsync per input). */
    clmlp_chunk_writer w;
    char err[FUZZ_ERRLEN];
    clmlp_cw_init(&w, CLMLP_MODEL_MAGIC, CLMLP_MODEL_VERSION);
    clmlp_status s = clmlp_model_write_chunks(&w, net, m, err, sizeof err);
    FUZZ_CHECK(s == CLMLP_OK, "model: a loaded model does not save: %s", err);
    FUZZ_CHECK(clmlp_cw_finish(&w) == CLMLP_OK, "model: cw_finish failed");
    clmlp_cw_free(&w);
}

/* One input; returns the loader's status for the regression test, which calls this directly. */
static clmlp_status fuzz_model_input(const uint8_t *data, size_t size)
{
    unsigned char *file = malloc(size ? size : 1);
    if (!file)
        abort();
    if (size)
        memcpy(file, data, size);
    if (size >= 12 + 16 && memcmp(file + size - 16, end_head, sizeof end_head) == 0) {
        uLong crc = crc32(crc32(0L, Z_NULL, 0), file, (uInt)(size - 16));
        for (int i = 0; i < 4; i++)
            file[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    }
    const char *path = fuzz_put(3, file, size);
    free(file);

    /* Loaded twice, with and without meta: the two paths own and free differently, and must
     * agree on the verdict. */
    clmlp_model_meta meta;
    clmlp_net *net = (clmlp_net *)(uintptr_t)1, *net2 = (clmlp_net *)(uintptr_t)1; /* junk */
    char err[FUZZ_ERRLEN], err2[FUZZ_ERRLEN];
    memset(&meta, 0x5A, sizeof meta);
    memset(err, 'x', sizeof err);
    memset(err2, 'x', sizeof err2);
    clmlp_status s = clmlp_model_load(path, &net, &meta, err, sizeof err);
    clmlp_status s2 = clmlp_model_load(path, &net2, NULL, err2, sizeof err2);
    FUZZ_CHECK(s == s2, "model: status %d with meta, %d without", (int)s, (int)s2);
    if (s == CLMLP_OK) {
        model_check_loaded(net, &meta);
        model_check_loaded(net2, NULL);
        FUZZ_CHECK(net->n_layers == net2->n_layers && net->loss == net2->loss &&
                       net->n_params_padded == net2->n_params_padded &&
                       memcmp(net->sizes, net2->sizes, sizeof net->sizes) == 0 &&
                       memcmp(net->act, net2->act, sizeof net->act) == 0 &&
                       memcmp(net->params, net2->params,
                              net->n_params_padded * sizeof *net->params) == 0,
                   "model: two loads of one file differ");
        clmlp_net_free(net);
        clmlp_net_free(net2);
        clmlp_model_meta_free(&meta);
    } else {
        fuzz_check_error(s, err, "model");
        fuzz_check_error(s2, err2, "model (no meta)");
        FUZZ_CHECK(net == NULL && net2 == NULL, "model: failed load left a network");
        FUZZ_CHECK(meta.norm_dim == 0 && !meta.norm_mean && !meta.norm_std && meta.seed == 0 &&
                       meta.epochs == 0 && meta.device[0] == '\0',
                   "model: failed load left meta non-empty");
    }
    return s;
}

#ifndef CLMLP_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(fuzz_scratch_cleanup);
    }
    fuzz_model_input(data, size);
    return 0;
}
#endif
