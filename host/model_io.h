/* model_io.h - saving and loading trained networks (docs/model-format.md), and the two building
 * blocks other file kinds (checkpoints) reuse: an atomic file writer and a chunked container.
 *
 * Every loader validates before it trusts: on failure it returns a non-OK status, leaves its
 * outputs empty (nothing to free) and writes one NUL-terminated line into err (when err is not
 * NULL and errlen > 0) naming the file and the byte offset at fault.
 */
#ifndef CLMLP_MODEL_IO_H
#define CLMLP_MODEL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "clmlp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Models ---------------------------------------------------------------------------- */

#define CLMLP_MODEL_MAGIC "CLMLPMOD"
#define CLMLP_MODEL_VERSION 1u /* the version written, and the newest one read */

typedef struct clmlp_model_meta {
    uint64_t seed;               /* seed the model was initialised and shuffled with */
    char device[128];            /* device it was trained on, e.g. "cpu-reference" */
    uint32_t epochs;             /* epochs trained */
    size_t norm_dim;             /* 0, or input width when standardisation was used */
    float *norm_mean, *norm_std; /* norm_dim floats each, owned (freed by clmlp_model_meta_free) */
} clmlp_model_meta;

/* Writes net and meta (NULL: seed 0, epochs 0, no device, no standardisation) to path
 * atomically: either the whole new file is in place or an existing file is left untouched.
 * Refuses what a load would refuse (NaN/Inf parameters, a NORM width other than the input
 * width, non-finite or negative standardisation values) so every saved file loads. */
clmlp_status clmlp_model_save(const char *path, const clmlp_net *net, const clmlp_model_meta *meta,
                              char *err, size_t errlen);
/* Reads a model. On success *net is a new network and meta (when not NULL) is filled and owns
 * its arrays; on failure *net is NULL and meta is zeroed. */
clmlp_status clmlp_model_load(const char *path, clmlp_net **net, clmlp_model_meta *meta,
                              char *err, size_t errlen);
/* Frees the arrays meta owns and zeroes it; NULL and zeroed metas are fine. */
void clmlp_model_meta_free(clmlp_model_meta *meta);

/* ---- Atomic file writes ---------------------------------------------------------------- */

/* What clmlp_write_file_atomic appends to the path for its temporary file (mkstemp's X's), so
 * that callers can check up front that the name leaves room for it. */
#define CLMLP_ATOMIC_SUFFIX ".tmp.XXXXXX"

/* Writes len bytes to path through a temporary file in the same folder (mkstemp), fsynced and
 * renamed over path, then fsyncs the folder. On failure the temporary file is removed and an
 * existing path is untouched, except when only the final folder fsync fails: then path has
 * already been replaced and the error says so. A replaced file keeps its permission bits; a new
 * one gets 0644. */
clmlp_status clmlp_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                                     size_t errlen);

/* ---- Chunked container: writing ---------------------------------------------------------- */
/* A file is an 8-byte magic, a uint32 version, then chunks (4-char tag, uint64 length, payload),
 * the last one "END " holding the CRC-32 of every byte before it; all integers little-endian.
 * The writer builds the file in memory; errors are sticky, so a run of calls needs one check,
 * at clmlp_cw_finish. */

typedef struct clmlp_chunk_writer {
    unsigned char *data; /* the file so far */
    size_t len, cap;
    size_t open_at;      /* offset of the open chunk's header; 0 when none is open */
    int failed;          /* an allocation failed or a size overflowed */
} clmlp_chunk_writer;

void clmlp_cw_init(clmlp_chunk_writer *w, const char magic[8], uint32_t version);
/* Opens a chunk; its length is filled in by clmlp_cw_end. */
void clmlp_cw_begin(clmlp_chunk_writer *w, const char tag[4]);
void clmlp_cw_u32(clmlp_chunk_writer *w, uint32_t v);
void clmlp_cw_u64(clmlp_chunk_writer *w, uint64_t v);
/* n floats as little-endian IEEE-754 binary32, bit for bit. */
void clmlp_cw_f32s(clmlp_chunk_writer *w, const float *v, size_t n);
void clmlp_cw_bytes(clmlp_chunk_writer *w, const void *p, size_t n);
void clmlp_cw_end(clmlp_chunk_writer *w);
/* Appends the END chunk. Returns CLMLP_ERR_NOMEM if any earlier call failed, CLMLP_ERR_ARG if
 * a chunk is still open. The file is then w->data, w->len bytes. */
clmlp_status clmlp_cw_finish(clmlp_chunk_writer *w);
void clmlp_cw_free(clmlp_chunk_writer *w);

/* ---- Chunked container: reading ---------------------------------------------------------- */

typedef struct clmlp_chunk_file {
    const char *path;    /* borrowed, for messages */
    unsigned char *data; /* the whole file */
    size_t len;
    uint32_t version;
    size_t end_at;       /* offset of the END chunk's header */
} clmlp_chunk_file;

/* Reads path whole and checks the container: magic, version 1..newest_version (a newer one is
 * refused naming both), every chunk inside the file, an END chunk with a matching CRC, nothing
 * after it. `kind` names the file kind in messages ("clmlp model"). On failure f is empty. */
clmlp_status clmlp_chunk_file_read(clmlp_chunk_file *f, const char *path, const char magic[8],
                                   uint32_t newest_version, const char *kind, char *err,
                                   size_t errlen);
void clmlp_chunk_file_free(clmlp_chunk_file *f);

typedef struct clmlp_chunk {
    int present;                  /* 0: an optional chunk that is not in the file */
    char tag[5];                  /* NUL-terminated */
    size_t at;                    /* file offset of the chunk's header */
    const unsigned char *payload; /* points into the file's data */
    uint64_t len;
} clmlp_chunk;

/* Finds the chunk tagged `tag`. A missing required chunk and a tag present twice are errors;
 * a missing optional chunk gives OK with out->present == 0. */
clmlp_status clmlp_chunk_find(const clmlp_chunk_file *f, const char tag[4], int required,
                              clmlp_chunk *out, char *err, size_t errlen);

/* Reads fields of one chunk's payload in order. Errors are sticky: after the first (a field
 * past the chunk's end) reads return 0 and the first message stays in err. */
typedef struct clmlp_chunk_reader {
    const clmlp_chunk_file *file;
    const clmlp_chunk *chunk;
    uint64_t pos; /* offset of the next field within the payload */
    char *err;
    size_t errlen;
    int failed;
} clmlp_chunk_reader;

void clmlp_cr_init(clmlp_chunk_reader *r, const clmlp_chunk_file *f, const clmlp_chunk *c,
                   char *err, size_t errlen);
/* `what` names the field in the message if the payload ends before it. */
uint32_t clmlp_cr_u32(clmlp_chunk_reader *r, const char *what);
uint64_t clmlp_cr_u64(clmlp_chunk_reader *r, const char *what);
/* Returns a pointer to the next n bytes of the payload (NULL on failure). */
const unsigned char *clmlp_cr_bytes(clmlp_chunk_reader *r, uint64_t n, const char *what);
/* File offset of the next field, for messages. */
size_t clmlp_cr_offset(const clmlp_chunk_reader *r);
/* Fails (sets the error) unless the whole payload was read; returns 1 when all went well. */
int clmlp_cr_done(clmlp_chunk_reader *r);
/* Decodes n little-endian binary32 values (e.g. from clmlp_cr_bytes). */
void clmlp_decode_f32s(const unsigned char *p, float *out, size_t n);

/* ---- The model's chunks, for file kinds that embed a model (checkpoints) ------------------ */

/* Appends the NETS, META, NORM (when meta->norm_dim) and PARM chunks, after checking what
 * clmlp_model_save documents. Nothing is appended on failure. */
clmlp_status clmlp_model_write_chunks(clmlp_chunk_writer *w, const clmlp_net *net,
                                      const clmlp_model_meta *meta, char *err, size_t errlen);
/* Reads and validates those chunks from a checked container; same contract as clmlp_model_load. */
clmlp_status clmlp_model_read_chunks(const clmlp_chunk_file *f, clmlp_net **net,
                                     clmlp_model_meta *meta, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
