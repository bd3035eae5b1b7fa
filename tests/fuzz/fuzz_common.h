/* fuzz_common.h - what the fuzz targets share: per-process scratch files rewritten on every
 * input, gzip in memory, and the contract checks that turn a broken loader promise into a crash
 * (under libFuzzer) or a test failure (tests/test_fuzz_regressions.c defines FUZZ_FAIL).
 *
 * The readers take paths, not buffers, so each input goes through a real file. The files are
 * made once per process with mkstemp (in $TMPDIR, else /tmp) and truncated and rewritten per
 * input: creating and deleting a file per input would cost more than most parses.
 */
#ifndef CLMLP_FUZZ_COMMON_H
#define CLMLP_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "clmlp.h"
#include "data/dataset.h"

/* A violated contract. Under libFuzzer abort() makes it a crash with a saved reproducer. */
#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                                                                         \
    (fprintf(stderr, "contract violated: " __VA_ARGS__), fputc('\n', stderr), abort())
#endif
#define FUZZ_CHECK(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond))                                                                           \
            FUZZ_FAIL(__VA_ARGS__);                                                            \
    } while (0)

#define FUZZ_ERRLEN 512
#define FUZZ_SLOTS 4

static char fuzz_paths[FUZZ_SLOTS][512];

/* Removes the scratch files; registered with atexit by the fuzzers, called by the test. */
static inline void fuzz_scratch_cleanup(void)
{
    for (int i = 0; i < FUZZ_SLOTS; i++)
        if (fuzz_paths[i][0]) {
            unlink(fuzz_paths[i]);
            fuzz_paths[i][0] = '\0';
        }
}

/* The path of scratch file `slot`, created on first use. Failing to make one is an environment
 * problem, not a finding, so it exits rather than aborts. */
static inline const char *fuzz_scratch(int slot)
{
    if (!fuzz_paths[slot][0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_paths[slot], sizeof fuzz_paths[slot], "%s/clmlp-fuzz-%d-XXXXXX",
                 dir && *dir ? dir : "/tmp", slot);
        int fd = mkstemp(fuzz_paths[slot]);
        if (fd < 0) {
            perror("fuzz: mkstemp");
            exit(2);
        }
        close(fd);
    }
    return fuzz_paths[slot];
}

/* Replaces the contents of scratch file `slot` with data; returns its path. */
static inline const char *fuzz_put(int slot, const void *data, size_t len)
{
    const char *path = fuzz_scratch(slot);
    int fd = open(path, O_WRONLY | O_TRUNC);
    const unsigned char *p = data;
    if (fd < 0) {
        perror("fuzz: open scratch file");
        exit(2);
    }
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k <= 0) {
            perror("fuzz: write scratch file");
            exit(2);
        }
        p += k;
        len -= (size_t)k;
    }
    close(fd);
    return path;
}

/* data gzip-compressed (a gzip header and trailer, not a bare zlib stream) into a new buffer,
 * so that the bytes the fuzzer chose are what the parser behind the gzip layer sees. */
static inline unsigned char *fuzz_gzip(const void *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    uLong cap = deflateBound(&z, (uLong)len);
    unsigned char *out = malloc(cap ? cap : 1);
    if (!out)
        abort();
    z.next_in = (Bytef *)(uintptr_t)data; /* zlib's API is not const-correct */
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    *out_len = (size_t)z.total_out;
    deflateEnd(&z);
    return out;
}

/* Writes data to scratch `slot`, gzipped when asked. */
static inline const char *fuzz_put_maybe_gz(int slot, const void *data, size_t len, int gz)
{
    if (!gz)
        return fuzz_put(slot, data, len);
    size_t zlen;
    unsigned char *z = fuzz_gzip(data, len, &zlen);
    const char *path = fuzz_put(slot, z, zlen);
    free(z);
    return path;
}

/* The readers' error contract: a known status, and one NUL-terminated line in err. */
static inline void fuzz_check_error(clmlp_status s, const char *err, const char *who)
{
    FUZZ_CHECK(s == CLMLP_ERR_NOMEM || s == CLMLP_ERR_IO || s == CLMLP_ERR_FORMAT,
               "%s: unexpected status %d (%s)", who, (int)s, err);
    FUZZ_CHECK(memchr(err, '\0', FUZZ_ERRLEN) != NULL, "%s: err not NUL-terminated", who);
    FUZZ_CHECK(err[0] != '\0', "%s: failed (status %d) without a message", who, (int)s);
    FUZZ_CHECK(strchr(err, '\n') == NULL, "%s: message is not one line: %s", who, err);
}

/* A failed load leaves *out empty: every field zero, nothing to free (field by field, since
 * padding bytes carry no promise). */
static inline int fuzz_dataset_empty(const clmlp_dataset *d)
{
    return d->n == 0 && d->dim == 0 && d->rows == 0 && d->cols == 0 && d->X == NULL &&
           d->labels == NULL && d->n_classes == 0;
}

#endif
