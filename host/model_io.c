/* model_io.c - the model file format (docs/model-format.md): an atomic file writer, a chunked
 * container closed by a CRC-32, and the model's chunks on top of both. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "model_io.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

enum {
    HEADER_LEN = 12,       /* magic (8) + version (4) */
    CHUNK_HEAD_LEN = 12,   /* tag (4) + length (8) */
    DEVICE_MAX = 127       /* device name bytes; clmlp_model_meta.device has room for a NUL */
};
/* The largest layer width clmlp_net_create accepts; checked here first so the message can name
 * the byte offset, and so no size product is computed from an absurd value. */
#define MAX_UNITS ((uint64_t)1 << 30)
/* A parameter count whose byte count (4 per float) still fits in 64 bits. */
#define MAX_PARAMS (UINT64_MAX / 4)
/* zlib's crc32 and read/write take lengths that may be 32-bit: feed them at most this much. */
#define IO_PIECE ((size_t)1 << 30)

static void set_err(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap); /* always NUL-terminates, truncating if need be */
    va_end(ap);
}

static void clear_err(char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
}

/* ---- Little-endian encoding, independent of the host's byte order ------------------------ */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Floats travel as their bit patterns, so a load gives back exactly what was saved. */
static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

void clmlp_decode_f32s(const unsigned char *p, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_u32(p + 4 * i);
        memcpy(&out[i], &u, sizeof u);
    }
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        size_t piece = n < IO_PIECE ? n : IO_PIECE;
        crc = crc32(crc, p, (uInt)piece);
        p += piece;
        n -= piece;
    }
    return (uint32_t)crc;
}

/* ---- Atomic file writes ---------------------------------------------------------------- */

/* The folder holding path ("." for a bare file name), as a new string; NULL if out of memory. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return NULL;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    return dir;
}

/* Writes all n bytes, resuming after short writes and signals; on failure returns -1 with errno
 * set and *done the number of bytes that did get written. */
static int write_all(int fd, const unsigned char *p, size_t n, size_t *done)
{
    *done = 0;
    while (*done < n) {
        size_t piece = n - *done < IO_PIECE ? n - *done : IO_PIECE;
        ssize_t r = write(fd, p + *done, piece);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* a zero-byte write would otherwise loop forever */
            return -1;
        }
        *done += (size_t)r;
    }
    return 0;
}

/* mkstemp creates files 0600. A model is no secret, so the file gets the permission bits of the
 * one it replaces, or 0644 when new. A failure here is harmless (the bytes are what matter) and
 * some file systems refuse chmod, so it is not an error. */
static void give_mode(int fd, const char *path)
{
    struct stat st;
    mode_t mode = 0644;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        mode = st.st_mode & 0777;
    (void)fchmod(fd, mode);
}

/* fsync of the folder makes the rename itself durable. Some file systems cannot fsync a folder
 * (EINVAL); that is their normal state, not a failure. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

clmlp_status clmlp_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                                     size_t errlen)
{
    static const char suffix[] = CLMLP_ATOMIC_SUFFIX;
    clear_err(err, errlen);
    if (!path || !*path || (!data && len > 0)) {
        set_err(err, errlen, "clmlp_write_file_atomic: no path or no data");
        return CLMLP_ERR_ARG;
    }
    /* rename() would replace whatever is there: refuse a directory, a device (/dev/null as
     * root), a FIFO or a socket instead of swapping it for a regular file. */
    struct stat target;
    if (stat(path, &target) == 0 && !S_ISREG(target.st_mode)) {
        set_err(err, errlen, "cannot save %s: it exists and is not a regular file", path);
        return CLMLP_ERR_IO;
    }
    size_t plen = strlen(path);
    char *dir = parent_dir(path);
    char *tmp = plen <= SIZE_MAX - sizeof suffix ? malloc(plen + sizeof suffix) : NULL;
    if (!dir || !tmp) {
        set_err(err, errlen, "cannot save %s: out of memory", path);
        free(dir);
        free(tmp);
        return CLMLP_ERR_NOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);

    /* The temporary file sits next to the target so that rename() stays within one file system
     * and is atomic: readers see the old file or the new one, never a mix. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_err(err, errlen, "cannot save %s: cannot create a temporary file in %s: %s", path,
                dir, strerror(errno));
        free(dir);
        free(tmp);
        return CLMLP_ERR_IO;
    }
    give_mode(fd, path);

    const char *step = NULL;
    size_t done = 0;
    if (write_all(fd, data, len, &done) != 0)
        step = "writing";
    else if (fsync(fd) != 0) /* write() keeps no user-space buffer, so fsync is the flush */
        step = "syncing";
    int saved = errno;
    if (close(fd) != 0 && !step) { /* NFS may report a failed write only at close */
        step = "closing";
        saved = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "renaming";
        saved = errno;
    }
    if (step) {
        unlink(tmp);
        char where[64] = "";
        if (done < len) /* the byte at which a write failed */
            snprintf(where, sizeof where, " at byte %zu of %zu", done, len);
        set_err(err, errlen,
                "cannot save %s: %s the temporary file %s failed%s: %s (any existing %s is "
                "unchanged)", path, step, tmp, where, strerror(saved), path);
        free(dir);
        free(tmp);
        return CLMLP_ERR_IO;
    }
    free(tmp);
    clmlp_status st = CLMLP_OK;
    if (sync_dir(dir) != 0) {
        set_err(err, errlen, "%s was written, but its folder %s could not be synced: %s", path,
                dir, strerror(errno));
        st = CLMLP_ERR_IO;
    }
    free(dir);
    return st;
}

/* ---- Chunked container: writing ---------------------------------------------------------- */

/* Makes room for n more bytes; 0 (and a sticky failure) when that is impossible. */
static int cw_reserve(clmlp_chunk_writer *w, size_t n)
{
    if (w->failed)
        return 0;
    if (n <= w->cap - w->len)
        return 1;
    if (n > SIZE_MAX - w->len) {
        w->failed = CLMLP_ERR_NOMEM;
        return 0;
    }
    size_t need = w->len + n, cap = w->cap ? w->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(w->data, cap);
    if (!p) {
        w->failed = CLMLP_ERR_NOMEM;
        return 0;
    }
    w->data = p;
    w->cap = cap;
    return 1;
}

void clmlp_cw_bytes(clmlp_chunk_writer *w, const void *p, size_t n)
{
    if (n == 0 || !cw_reserve(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void clmlp_cw_u32(clmlp_chunk_writer *w, uint32_t v)
{
    unsigned char b[4];
    put_u32(b, v);
    clmlp_cw_bytes(w, b, sizeof b);
}

void clmlp_cw_u64(clmlp_chunk_writer *w, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    clmlp_cw_bytes(w, b, sizeof b);
}

void clmlp_cw_f32s(clmlp_chunk_writer *w, const float *v, size_t n)
{
    if (n > SIZE_MAX / 4) {
        w->failed = CLMLP_ERR_NOMEM;
        return;
    }
    if (n == 0 || !cw_reserve(w, 4 * n))
        return;
    for (size_t i = 0; i < n; i++)
        put_u32(w->data + w->len + 4 * i, f32_bits(v[i]));
    w->len += 4 * n;
}

void clmlp_cw_init(clmlp_chunk_writer *w, const char magic[8], uint32_t version)
{
    memset(w, 0, sizeof *w);
    clmlp_cw_bytes(w, magic, 8);
    clmlp_cw_u32(w, version);
}

void clmlp_cw_begin(clmlp_chunk_writer *w, const char tag[4])
{
    if (w->open_at) { /* chunks do not nest */
        w->failed = CLMLP_ERR_ARG;
        return;
    }
    size_t at = w->len;
    clmlp_cw_bytes(w, tag, 4);
    clmlp_cw_u64(w, 0); /* patched by clmlp_cw_end once the payload's length is known */
    if (!w->failed)
        w->open_at = at;
}

void clmlp_cw_end(clmlp_chunk_writer *w)
{
    if (!w->open_at) {
        if (!w->failed)
            w->failed = CLMLP_ERR_ARG;
        return;
    }
    if (!w->failed)
        put_u64(w->data + w->open_at + 4, (uint64_t)(w->len - w->open_at - CHUNK_HEAD_LEN));
    w->open_at = 0;
}

clmlp_status clmlp_cw_finish(clmlp_chunk_writer *w)
{
    if (w->open_at && !w->failed)
        w->failed = CLMLP_ERR_ARG;
    if (w->failed)
        return (clmlp_status)w->failed;
    uint32_t crc = crc32_of(w->data, w->len); /* computed before END is appended: it covers all
                                                 bytes that precede the END chunk */
    clmlp_cw_bytes(w, "END ", 4);
    clmlp_cw_u64(w, 4);
    clmlp_cw_u32(w, crc);
    return w->failed ? (clmlp_status)w->failed : CLMLP_OK;
}

void clmlp_cw_free(clmlp_chunk_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

/* ---- Chunked container: reading ---------------------------------------------------------- */

/* Reads a whole regular file into memory. An empty file gives a 1-byte buffer and *len 0. */
static clmlp_status read_whole_file(const char *path, unsigned char **data, size_t *len,
                                    char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return CLMLP_ERR_IO;
    }
    struct stat st;
    clmlp_status status = CLMLP_ERR_IO;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s is not a regular file", path);
    } else if (st.st_size < 0 || (uintmax_t)st.st_size >= SIZE_MAX) {
        set_err(err, errlen, "%s is too large to load", path);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        set_err(err, errlen, "cannot load %s: out of memory for %jd bytes", path,
                (intmax_t)st.st_size);
        status = CLMLP_ERR_NOMEM;
    } else {
        size_t want = (size_t)st.st_size, got = 0;
        status = CLMLP_OK;
        while (got < want) {
            size_t piece = want - got < IO_PIECE ? want - got : IO_PIECE;
            ssize_t r = read(fd, buf + got, piece);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                set_err(err, errlen, "%s: read error at byte %zu: %s", path, got, strerror(errno));
                status = CLMLP_ERR_IO;
                break;
            }
            if (r == 0) /* the file shrank since fstat: what is there is checked as truncated */
                break;
            got += (size_t)r;
        }
        *len = got;
    }
    close(fd);
    if (status != CLMLP_OK) {
        free(buf);
        *len = 0;
        return status;
    }
    *data = buf;
    return CLMLP_OK;
}

/* Renders up to 8 bytes as hex and as text, e.g. `68 65 6c 6c 6f 0a ("hello.")`. */
static void describe_bytes(const unsigned char *p, size_t n, char *out, size_t outlen)
{
    char hex[3 * 8 + 1] = "", text[8 + 1] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        used += (size_t)snprintf(hex + used, sizeof hex - used, i ? " %02x" : "%02x", p[i]);
        text[i] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i] : '.';
        text[i + 1] = '\0';
    }
    snprintf(out, outlen, "%s (\"%s\")", hex, text);
}

static clmlp_status check_header(const clmlp_chunk_file *f, const char magic[8],
                                 uint32_t newest_version, const char *kind, char *err,
                                 size_t errlen)
{
    if (f->len == 0) {
        set_err(err, errlen, "%s is not a %s (the file is empty: expected magic \"%.8s\" at "
                "byte 0)", f->path, kind, magic);
        return CLMLP_ERR_FORMAT;
    }
    size_t m = f->len < 8 ? f->len : 8;
    if (memcmp(f->data, magic, m) != 0) {
        char seen[64];
        describe_bytes(f->data, m, seen, sizeof seen);
        set_err(err, errlen, "%s is not a %s (magic at byte 0 is %s, expected \"%.8s\")",
                f->path, kind, seen, magic);
        return CLMLP_ERR_FORMAT;
    }
    if (f->len < HEADER_LEN) {
        set_err(err, errlen, "%s: truncated at byte %zu, expected the %d-byte header (magic and "
                "format version)", f->path, f->len, HEADER_LEN);
        return CLMLP_ERR_FORMAT;
    }
    uint32_t version = get_u32(f->data + 8);
    if (version > newest_version) {
        set_err(err, errlen, "%s: format version %" PRIu32 " at byte 8 is newer than this clmlp "
                "reads (version %" PRIu32 "); use a newer clmlp", f->path, version,
                newest_version);
        return CLMLP_ERR_FORMAT;
    }
    if (version == 0) {
        set_err(err, errlen, "%s: invalid format version 0 at byte 8", f->path);
        return CLMLP_ERR_FORMAT;
    }
    return CLMLP_OK;
}

/* Tags are four printable ASCII characters, which also keeps them printable in messages. */
static int tag_ok(const unsigned char *t)
{
    for (int i = 0; i < 4; i++)
        if (t[i] < 0x20 || t[i] > 0x7e)
            return 0;
    return 1;
}

/* The END chunk at p (its length known to fit): length 4, last in the file, CRC matching. */
static clmlp_status check_end(clmlp_chunk_file *f, size_t p, uint64_t len, char *err,
                              size_t errlen)
{
    if (len != 4) {
        set_err(err, errlen, "%s: END chunk at byte %zu has length %" PRIu64 ", expected 4",
                f->path, p, len);
        return CLMLP_ERR_FORMAT;
    }
    size_t after = p + CHUNK_HEAD_LEN + 4;
    if (after != f->len) {
        set_err(err, errlen, "%s: %zu bytes of trailing garbage at byte %zu, after the END chunk",
                f->path, f->len - after, after);
        return CLMLP_ERR_FORMAT;
    }
    uint32_t stored = get_u32(f->data + p + CHUNK_HEAD_LEN);
    uint32_t actual = crc32_of(f->data, p);
    if (stored != actual) {
        set_err(err, errlen, "%s: checksum mismatch: the END chunk at byte %zu holds CRC-32 "
                "%08" PRIx32 " but the %zu bytes before it give %08" PRIx32 " (the file is "
                "corrupted)", f->path, p, stored, p, actual);
        return CLMLP_ERR_FORMAT;
    }
    f->end_at = p;
    return CLMLP_OK;
}

/* Walks the chunks from the header to END, checking each lies inside the file. Every step
 * moves at least one header forward, so the walk ends. */
static clmlp_status walk_chunks(clmlp_chunk_file *f, char *err, size_t errlen)
{
    size_t p = HEADER_LEN;
    for (;;) {
        if (f->len - p < CHUNK_HEAD_LEN) {
            set_err(err, errlen, "%s: truncated at byte %zu, expected a %d-byte chunk header "
                    "at byte %zu (the END chunk is missing)", f->path, f->len, CHUNK_HEAD_LEN, p);
            return CLMLP_ERR_FORMAT;
        }
        const unsigned char *h = f->data + p;
        if (!tag_ok(h)) {
            set_err(err, errlen, "%s: bad chunk tag at byte %zu (bytes %02x %02x %02x %02x)",
                    f->path, p, h[0], h[1], h[2], h[3]);
            return CLMLP_ERR_FORMAT;
        }
        uint64_t len = get_u64(h + 4);
        size_t room = f->len - p - CHUNK_HEAD_LEN;
        if (len > room) {
            set_err(err, errlen, "%s: truncated at byte %zu, expected %" PRIu64 " bytes of the "
                    "\"%.4s\" chunk that starts at byte %zu (only %zu follow its header)", f->path,
                    f->len, len, (const char *)h, p, room);
            return CLMLP_ERR_FORMAT;
        }
        if (memcmp(h, "END ", 4) == 0)
            return check_end(f, p, len, err, errlen);
        p += CHUNK_HEAD_LEN + (size_t)len;
    }
}

clmlp_status clmlp_chunk_file_read(clmlp_chunk_file *f, const char *path, const char magic[8],
                                   uint32_t newest_version, const char *kind, char *err,
                                   size_t errlen)
{
    clear_err(err, errlen);
    memset(f, 0, sizeof *f);
    if (!path || !magic || !kind) {
        set_err(err, errlen, "clmlp_chunk_file_read: no path");
        return CLMLP_ERR_ARG;
    }
    clmlp_chunk_file tmp = {0};
    tmp.path = path;
    clmlp_status st = read_whole_file(path, &tmp.data, &tmp.len, err, errlen);
    if (st == CLMLP_OK)
        st = check_header(&tmp, magic, newest_version, kind, err, errlen);
    if (st == CLMLP_OK)
        st = walk_chunks(&tmp, err, errlen);
    if (st != CLMLP_OK) {
        free(tmp.data);
        return st;
    }
    tmp.version = get_u32(tmp.data + 8);
    *f = tmp;
    return CLMLP_OK;
}

void clmlp_chunk_file_free(clmlp_chunk_file *f)
{
    if (!f)
        return;
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* Decodes the header of the chunk at p, which the walk has already checked. */
static void chunk_at(const clmlp_chunk_file *f, size_t p, clmlp_chunk *c)
{
    c->present = 1;
    memcpy(c->tag, f->data + p, 4);
    c->tag[4] = '\0';
    c->at = p;
    c->len = get_u64(f->data + p + 4);
    c->payload = f->data + p + CHUNK_HEAD_LEN;
}

clmlp_status clmlp_chunk_find(const clmlp_chunk_file *f, const char tag[4], int required,
                              clmlp_chunk *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    clmlp_chunk c;
    for (size_t p = HEADER_LEN; p < f->end_at; p += CHUNK_HEAD_LEN + (size_t)c.len) {
        chunk_at(f, p, &c);
        if (memcmp(c.tag, tag, 4) != 0)
            continue;
        if (out->present) { /* two would leave the reader guessing which one counts */
            set_err(err, errlen, "%s: duplicate %.4s chunks at bytes %zu and %zu", f->path, tag,
                    out->at, p);
            memset(out, 0, sizeof *out);
            return CLMLP_ERR_FORMAT;
        }
        *out = c;
    }
    if (required && !out->present) {
        set_err(err, errlen, "%s: missing %.4s chunk (required) before the END chunk at byte %zu",
                f->path, tag, f->end_at);
        return CLMLP_ERR_FORMAT;
    }
    return CLMLP_OK;
}

void clmlp_cr_init(clmlp_chunk_reader *r, const clmlp_chunk_file *f, const clmlp_chunk *c,
                   char *err, size_t errlen)
{
    r->file = f;
    r->chunk = c;
    r->pos = 0;
    r->err = err;
    r->errlen = errlen;
    r->failed = 0;
}

size_t clmlp_cr_offset(const clmlp_chunk_reader *r)
{
    return r->chunk->at + CHUNK_HEAD_LEN + (size_t)r->pos;
}

const unsigned char *clmlp_cr_bytes(clmlp_chunk_reader *r, uint64_t n, const char *what)
{
    if (r->failed)
        return NULL;
    if (n > r->chunk->len - r->pos) {
        set_err(r->err, r->errlen, "%s: the %s chunk at byte %zu ends at byte %zu, expected %s "
                "(%" PRIu64 " bytes) there", r->file->path, r->chunk->tag, r->chunk->at,
                r->chunk->at + CHUNK_HEAD_LEN + (size_t)r->chunk->len, what, n);
        r->failed = 1;
        return NULL;
    }
    const unsigned char *p = r->chunk->payload + r->pos;
    r->pos += n;
    return p;
}

uint32_t clmlp_cr_u32(clmlp_chunk_reader *r, const char *what)
{
    const unsigned char *p = clmlp_cr_bytes(r, 4, what);
    return p ? get_u32(p) : 0;
}

uint64_t clmlp_cr_u64(clmlp_chunk_reader *r, const char *what)
{
    const unsigned char *p = clmlp_cr_bytes(r, 8, what);
    return p ? get_u64(p) : 0;
}

int clmlp_cr_done(clmlp_chunk_reader *r)
{
    if (r->failed)
        return 0;
    if (r->pos != r->chunk->len) {
        set_err(r->err, r->errlen, "%s: the %s chunk at byte %zu has %" PRIu64 " unexpected "
                "bytes at byte %zu", r->file->path, r->chunk->tag, r->chunk->at,
                r->chunk->len - r->pos, clmlp_cr_offset(r));
        r->failed = 1;
        return 0;
    }
    return 1;
}

/* ---- The model's chunks ------------------------------------------------------------------ */
/* Tensors are numbered t = 0, 1, 2, ... for W_0, b_0, W_1, b_1, ..., the order of PARM. */

static int n_tensors(const clmlp_net *net)
{
    return 2 * net->n_layers;
}

static size_t tensor_len(const clmlp_net *net, int t)
{
    int l = t / 2;
    return t % 2 ? net->sizes[l + 1] : net->sizes[l] * net->sizes[l + 1];
}

static float *tensor_data(const clmlp_net *net, int t)
{
    int l = t / 2;
    return net->params + (t % 2 ? net->b_off[l] : net->w_off[l]);
}

/* Names element i of tensor t, e.g. "W_1[2][3]" or "b_0[4]". */
static void element_name(const clmlp_net *net, int t, size_t i, char *out, size_t outlen)
{
    int l = t / 2;
    if (t % 2)
        snprintf(out, outlen, "b_%d[%zu]", l, i);
    else
        snprintf(out, outlen, "W_%d[%zu][%zu]", l, i / net->sizes[l + 1], i % net->sizes[l + 1]);
}

static const char *nonfinite_name(float v)
{
    return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/* Finds the first NaN or Inf parameter; returns 1 with *t, *i set when there is one. */
static int find_nonfinite(const clmlp_net *net, int *t, size_t *i)
{
    for (*t = 0; *t < n_tensors(net); (*t)++) {
        const float *v = tensor_data(net, *t);
        size_t n = tensor_len(net, *t);
        for (*i = 0; *i < n; (*i)++)
            if (!isfinite(v[*i]))
                return 1;
    }
    return 0;
}

/* Checks NORM's values: finite, and std >= 0 (0 marks a constant feature, which
 * standardisation treats as 1). Returns the index of the first bad one, or dim. */
static size_t first_bad_norm(const float *mean, const float *std, size_t dim)
{
    for (size_t k = 0; k < dim; k++)
        if (!isfinite(mean[k]) || !isfinite(std[k]) || std[k] < 0)
            return k;
    return dim;
}

/* Checks what a load would refuse in meta; err gets a message without the file name. */
static clmlp_status check_meta_for_save(const clmlp_net *net, const clmlp_model_meta *meta,
                                        char *err, size_t errlen)
{
    if (memchr(meta->device, '\0', sizeof meta->device) == NULL) {
        set_err(err, errlen, "the device name is not NUL-terminated");
        return CLMLP_ERR_ARG;
    }
    if (meta->norm_dim == 0)
        return CLMLP_OK;
    if (meta->norm_dim != net->sizes[0]) {
        set_err(err, errlen, "standardisation has width %zu but the network's input width is %zu",
                meta->norm_dim, net->sizes[0]);
        return CLMLP_ERR_ARG;
    }
    if (!meta->norm_mean || !meta->norm_std) {
        set_err(err, errlen, "standardisation of width %zu has no mean or std array",
                meta->norm_dim);
        return CLMLP_ERR_ARG;
    }
    size_t k = first_bad_norm(meta->norm_mean, meta->norm_std, meta->norm_dim);
    if (k < meta->norm_dim) {
        set_err(err, errlen, "standardisation of feature %zu is invalid (mean %g, std %g)", k,
                (double)meta->norm_mean[k], (double)meta->norm_std[k]);
        return CLMLP_ERR_ARG;
    }
    return CLMLP_OK;
}

clmlp_status clmlp_model_write_chunks(clmlp_chunk_writer *w, const clmlp_net *net,
                                      const clmlp_model_meta *meta, char *err, size_t errlen)
{
    static const clmlp_model_meta none; /* zero: no seed, no device, no standardisation */
    clear_err(err, errlen);
    if (!w || !net || !net->params || net->n_layers < 1 || net->n_layers > CLMLP_MAX_LAYERS) {
        set_err(err, errlen, "no network to save");
        return CLMLP_ERR_ARG;
    }
    if (!meta)
        meta = &none;
    clmlp_status st = check_meta_for_save(net, meta, err, errlen);
    if (st != CLMLP_OK)
        return st;
    int t;
    size_t i;
    if (find_nonfinite(net, &t, &i)) {
        char name[64];
        element_name(net, t, i, name, sizeof name);
        set_err(err, errlen, "parameter %s is %s", name, nonfinite_name(tensor_data(net, t)[i]));
        return CLMLP_ERR_NONFINITE;
    }

    clmlp_cw_begin(w, "NETS");
    clmlp_cw_u32(w, (uint32_t)net->n_layers);
    for (int l = 0; l <= net->n_layers; l++)
        clmlp_cw_u64(w, (uint64_t)net->sizes[l]);
    for (int l = 0; l < net->n_layers; l++)
        clmlp_cw_u32(w, (uint32_t)net->act[l]);
    clmlp_cw_u32(w, (uint32_t)net->loss);
    clmlp_cw_end(w);

    size_t dev_len = strlen(meta->device);
    clmlp_cw_begin(w, "META");
    clmlp_cw_u64(w, meta->seed);
    clmlp_cw_u32(w, meta->epochs);
    clmlp_cw_u32(w, (uint32_t)dev_len);
    clmlp_cw_bytes(w, meta->device, dev_len);
    clmlp_cw_end(w);

    if (meta->norm_dim) {
        clmlp_cw_begin(w, "NORM");
        clmlp_cw_u64(w, (uint64_t)meta->norm_dim);
        clmlp_cw_f32s(w, meta->norm_mean, meta->norm_dim);
        clmlp_cw_f32s(w, meta->norm_std, meta->norm_dim);
        clmlp_cw_end(w);
    }

    clmlp_cw_begin(w, "PARM"); /* without the in-memory padding: the file does not depend on it */
    for (t = 0; t < n_tensors(net); t++)
        clmlp_cw_f32s(w, tensor_data(net, t), tensor_len(net, t));
    clmlp_cw_end(w);

    if (w->failed) {
        set_err(err, errlen, w->failed == CLMLP_ERR_NOMEM ? "out of memory building the file"
                                                          : "a chunk was left open in the writer");
        return (clmlp_status)w->failed;
    }
    return CLMLP_OK;
}

/* The network described by NETS, validated, before anything is allocated for it. */
typedef struct net_shape {
    int n_layers;
    size_t sizes[CLMLP_MAX_LAYERS + 1];
    clmlp_act act[CLMLP_MAX_LAYERS];
    clmlp_loss loss;
    uint64_t n_params; /* sum of the tensor lengths, at most MAX_PARAMS */
    size_t at;         /* file offset of the NETS chunk, for messages */
} net_shape;

static clmlp_status read_layer_count(clmlp_chunk_reader *r, net_shape *s)
{
    size_t at = clmlp_cr_offset(r);
    uint32_t n = clmlp_cr_u32(r, "the layer count");
    if (r->failed)
        return CLMLP_ERR_FORMAT;
    if (n == 0 || n > CLMLP_MAX_LAYERS) {
        set_err(r->err, r->errlen, "%s: layer count %" PRIu32 " at byte %zu is out of range "
                "(1 to %d)", r->file->path, n, at, CLMLP_MAX_LAYERS);
        return CLMLP_ERR_FORMAT;
    }
    s->n_layers = (int)n;
    return CLMLP_OK;
}

/* Reads the sizes and adds up the parameter count in 64 bits, refusing absurd widths first so
 * that no product can overflow and no later allocation is sized from a lie. */
static clmlp_status read_sizes(clmlp_chunk_reader *r, net_shape *s)
{
    for (int l = 0; l <= s->n_layers; l++) {
        size_t at = clmlp_cr_offset(r);
        uint64_t v = clmlp_cr_u64(r, "a layer size");
        if (r->failed)
            return CLMLP_ERR_FORMAT;
        if (v == 0 || v > MAX_UNITS) {
            set_err(r->err, r->errlen, "%s: size %" PRIu64 " of layer %d at byte %zu is out of "
                    "range (1 to %" PRIu64 " units)", r->file->path, v, l, at, MAX_UNITS);
            return CLMLP_ERR_FORMAT;
        }
        s->sizes[l] = (size_t)v;
    }
    s->n_params = 0;
    for (int l = 0; l < s->n_layers; l++) {
        uint64_t add = (uint64_t)s->sizes[l] * s->sizes[l + 1] + s->sizes[l + 1]; /* <= 2^61 */
        if (add > MAX_PARAMS - s->n_params) {
            set_err(r->err, r->errlen, "%s: the layer sizes in the NETS chunk at byte %zu imply "
                    "more than %" PRIu64 " parameters", r->file->path, s->at, MAX_PARAMS);
            return CLMLP_ERR_FORMAT;
        }
        s->n_params += add;
    }
    return CLMLP_OK;
}

static clmlp_status read_codes(clmlp_chunk_reader *r, net_shape *s)
{
    for (int l = 0; l < s->n_layers; l++) {
        size_t at = clmlp_cr_offset(r);
        uint32_t code = clmlp_cr_u32(r, "an activation code");
        if (r->failed)
            return CLMLP_ERR_FORMAT;
        if (code > CLMLP_ACT_SOFTMAX) {
            set_err(r->err, r->errlen, "%s: unknown activation code %" PRIu32 " for layer %d at "
                    "byte %zu", r->file->path, code, l, at);
            return CLMLP_ERR_FORMAT;
        }
        if (code == CLMLP_ACT_SOFTMAX && l != s->n_layers - 1) {
            set_err(r->err, r->errlen, "%s: softmax on hidden layer %d at byte %zu; only the "
                    "last layer may use it", r->file->path, l, at);
            return CLMLP_ERR_FORMAT;
        }
        s->act[l] = (clmlp_act)code;
    }
    size_t at = clmlp_cr_offset(r);
    uint32_t code = clmlp_cr_u32(r, "the loss code");
    if (r->failed)
        return CLMLP_ERR_FORMAT;
    if (code > CLMLP_LOSS_CE) {
        set_err(r->err, r->errlen, "%s: unknown loss code %" PRIu32 " at byte %zu",
                r->file->path, code, at);
        return CLMLP_ERR_FORMAT;
    }
    s->loss = (clmlp_loss)code;
    return clmlp_cr_done(r) ? CLMLP_OK : CLMLP_ERR_FORMAT;
}

static clmlp_status read_nets(const clmlp_chunk_file *f, net_shape *s, char *err, size_t errlen)
{
    clmlp_chunk c;
    clmlp_status st = clmlp_chunk_find(f, "NETS", 1, &c, err, errlen);
    if (st != CLMLP_OK)
        return st;
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, &c, err, errlen);
    s->at = c.at;
    st = read_layer_count(&r, s);
    if (st == CLMLP_OK)
        st = read_sizes(&r, s);
    if (st == CLMLP_OK)
        st = read_codes(&r, s);
    return st;
}

static clmlp_status read_meta(const clmlp_chunk_file *f, clmlp_model_meta *m, char *err,
                              size_t errlen)
{
    clmlp_chunk c;
    clmlp_status st = clmlp_chunk_find(f, "META", 1, &c, err, errlen);
    if (st != CLMLP_OK)
        return st;
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, &c, err, errlen);
    m->seed = clmlp_cr_u64(&r, "the seed");
    m->epochs = clmlp_cr_u32(&r, "the epoch count");
    size_t at = clmlp_cr_offset(&r);
    uint32_t n = clmlp_cr_u32(&r, "the device name's length");
    if (!r.failed && n > DEVICE_MAX) {
        set_err(err, errlen, "%s: device name length %" PRIu32 " at byte %zu exceeds %d",
                f->path, n, at, DEVICE_MAX);
        return CLMLP_ERR_FORMAT;
    }
    at = clmlp_cr_offset(&r);
    const unsigned char *name = clmlp_cr_bytes(&r, n, "the device name");
    if (!clmlp_cr_done(&r))
        return CLMLP_ERR_FORMAT;
    if (n > 0 && memchr(name, '\0', n)) {
        set_err(err, errlen, "%s: the device name at byte %zu contains a NUL byte", f->path, at);
        return CLMLP_ERR_FORMAT;
    }
    if (n > 0)
        memcpy(m->device, name, n);
    m->device[n] = '\0';
    return CLMLP_OK;
}

static clmlp_status read_norm(const clmlp_chunk_file *f, const net_shape *s,
                              clmlp_model_meta *m, char *err, size_t errlen)
{
    clmlp_chunk c;
    clmlp_status st = clmlp_chunk_find(f, "NORM", 0, &c, err, errlen);
    if (st != CLMLP_OK || !c.present)
        return st;
    clmlp_chunk_reader r;
    clmlp_cr_init(&r, f, &c, err, errlen);
    size_t at = clmlp_cr_offset(&r);
    uint64_t dim = clmlp_cr_u64(&r, "the standardisation width");
    if (r.failed)
        return CLMLP_ERR_FORMAT;
    if (dim != s->sizes[0]) {
        set_err(err, errlen, "%s: standardisation width %" PRIu64 " at byte %zu differs from "
                "the input width %zu", f->path, dim, at, s->sizes[0]);
        return CLMLP_ERR_FORMAT;
    }
    /* dim <= 2^30 (it equals a checked size), so 4 * dim cannot overflow; the chunk lies inside
     * the file, so these reads bound the allocation below by the file's size. */
    const unsigned char *mean = clmlp_cr_bytes(&r, 4 * dim, "the standardisation means");
    const unsigned char *std = clmlp_cr_bytes(&r, 4 * dim, "the standardisation deviations");
    if (!clmlp_cr_done(&r))
        return CLMLP_ERR_FORMAT;
    m->norm_mean = malloc((size_t)dim * sizeof(float));
    m->norm_std = malloc((size_t)dim * sizeof(float));
    if (!m->norm_mean || !m->norm_std) {
        set_err(err, errlen, "cannot load %s: out of memory", f->path);
        return CLMLP_ERR_NOMEM; /* the caller frees what was allocated */
    }
    m->norm_dim = (size_t)dim;
    clmlp_decode_f32s(mean, m->norm_mean, m->norm_dim);
    clmlp_decode_f32s(std, m->norm_std, m->norm_dim);
    size_t k = first_bad_norm(m->norm_mean, m->norm_std, m->norm_dim);
    if (k < m->norm_dim) {
        int bad_mean = !isfinite(m->norm_mean[k]);
        size_t byte = (size_t)(bad_mean ? mean - f->data : std - f->data) + 4 * k;
        set_err(err, errlen, "%s: standardisation %s[%zu] at byte %zu is %g", f->path,
                bad_mean ? "mean" : "std", k, byte,
                (double)(bad_mean ? m->norm_mean[k] : m->norm_std[k]));
        return CLMLP_ERR_FORMAT;
    }
    return CLMLP_OK;
}

/* Finds PARM and checks its length is exactly what NETS implies, before the network exists. */
static clmlp_status find_parm(const clmlp_chunk_file *f, const net_shape *s, clmlp_chunk *c,
                              char *err, size_t errlen)
{
    clmlp_status st = clmlp_chunk_find(f, "PARM", 1, c, err, errlen);
    if (st != CLMLP_OK)
        return st;
    if (c->len != 4 * s->n_params) {
        set_err(err, errlen, "%s: the PARM chunk at byte %zu has %" PRIu64 " bytes, but the "
                "NETS chunk at byte %zu implies %" PRIu64 " (%" PRIu64 " float32 parameters)",
                f->path, c->at, c->len, s->at, 4 * s->n_params, s->n_params);
        return CLMLP_ERR_FORMAT;
    }
    return CLMLP_OK;
}

/* Copies PARM into the network's padded layout, then refuses NaN and Inf. */
static clmlp_status decode_parm(const clmlp_chunk_file *f, const clmlp_chunk *c, clmlp_net *net,
                                char *err, size_t errlen)
{
    const unsigned char *p = c->payload;
    for (int t = 0; t < n_tensors(net); t++) {
        clmlp_decode_f32s(p, tensor_data(net, t), tensor_len(net, t));
        p += 4 * tensor_len(net, t);
    }
    int t;
    size_t i;
    if (!find_nonfinite(net, &t, &i))
        return CLMLP_OK;
    size_t byte = c->at + CHUNK_HEAD_LEN + 4 * i;
    for (int u = 0; u < t; u++)
        byte += 4 * tensor_len(net, u);
    char name[64];
    element_name(net, t, i, name, sizeof name);
    set_err(err, errlen, "%s: parameter %s at byte %zu is %s", f->path, name, byte,
            nonfinite_name(tensor_data(net, t)[i]));
    return CLMLP_ERR_FORMAT;
}

/* Builds the network; clmlp_net_create's own checks (e.g. cross-entropy needs softmax) name the
 * NETS chunk in the message. */
static clmlp_status create_net(const clmlp_chunk_file *f, const net_shape *s, clmlp_net **net,
                               char *err, size_t errlen)
{
    char why[256];
    clmlp_status st = clmlp_net_create(net, s->n_layers, s->sizes, s->act, s->loss, why,
                                       sizeof why);
    if (st == CLMLP_ERR_NOMEM) {
        set_err(err, errlen, "cannot load %s: out of memory for %" PRIu64 " parameters", f->path,
                s->n_params);
        return st;
    }
    if (st != CLMLP_OK) {
        set_err(err, errlen, "%s: the NETS chunk at byte %zu describes an invalid network: %s",
                f->path, s->at, why);
        return CLMLP_ERR_FORMAT;
    }
    return CLMLP_OK;
}

clmlp_status clmlp_model_read_chunks(const clmlp_chunk_file *f, clmlp_net **net,
                                     clmlp_model_meta *meta, char *err, size_t errlen)
{
    clear_err(err, errlen);
    if (meta)
        memset(meta, 0, sizeof *meta);
    if (!net) {
        set_err(err, errlen, "clmlp_model_read_chunks: no output network");
        return CLMLP_ERR_ARG;
    }
    *net = NULL;
    net_shape shape;
    clmlp_model_meta m;
    clmlp_chunk parm;
    clmlp_net *n = NULL;
    memset(&m, 0, sizeof m);
    /* Everything NETS claims is checked against the file before any allocation. */
    clmlp_status st = read_nets(f, &shape, err, errlen);
    if (st == CLMLP_OK)
        st = find_parm(f, &shape, &parm, err, errlen);
    if (st == CLMLP_OK)
        st = read_meta(f, &m, err, errlen);
    if (st == CLMLP_OK)
        st = read_norm(f, &shape, &m, err, errlen);
    if (st == CLMLP_OK)
        st = create_net(f, &shape, &n, err, errlen);
    if (st == CLMLP_OK)
        st = decode_parm(f, &parm, n, err, errlen);
    if (st != CLMLP_OK) {
        clmlp_net_free(n);
        clmlp_model_meta_free(&m);
        return st;
    }
    *net = n;
    if (meta)
        *meta = m;
    else
        clmlp_model_meta_free(&m);
    return CLMLP_OK;
}

/* ---- Models ---------------------------------------------------------------------------- */

clmlp_status clmlp_model_save(const char *path, const clmlp_net *net, const clmlp_model_meta *meta,
                              char *err, size_t errlen)
{
    clear_err(err, errlen);
    if (!path || !*path) {
        set_err(err, errlen, "cannot save a model: no file name");
        return CLMLP_ERR_ARG;
    }
    clmlp_chunk_writer w;
    clmlp_cw_init(&w, CLMLP_MODEL_MAGIC, CLMLP_MODEL_VERSION);
    char why[256];
    clmlp_status st = clmlp_model_write_chunks(&w, net, meta, why, sizeof why);
    if (st != CLMLP_OK)
        set_err(err, errlen, "cannot save %s: %s", path, why);
    if (st == CLMLP_OK && (st = clmlp_cw_finish(&w)) != CLMLP_OK)
        set_err(err, errlen, "cannot save %s: out of memory building the file", path);
    if (st == CLMLP_OK)
        st = clmlp_write_file_atomic(path, w.data, w.len, err, errlen);
    clmlp_cw_free(&w);
    return st;
}

clmlp_status clmlp_model_load(const char *path, clmlp_net **net, clmlp_model_meta *meta,
                              char *err, size_t errlen)
{
    clear_err(err, errlen);
    if (meta)
        memset(meta, 0, sizeof *meta);
    if (!net) {
        set_err(err, errlen, "clmlp_model_load: no output network");
        return CLMLP_ERR_ARG;
    }
    *net = NULL;
    clmlp_chunk_file f;
    clmlp_status st = clmlp_chunk_file_read(&f, path, CLMLP_MODEL_MAGIC, CLMLP_MODEL_VERSION,
                                            "clmlp model", err, errlen);
    if (st != CLMLP_OK)
        return st;
    st = clmlp_model_read_chunks(&f, net, meta, err, errlen);
    clmlp_chunk_file_free(&f);
    return st;
}

void clmlp_model_meta_free(clmlp_model_meta *meta)
{
    if (!meta)
        return;
    free(meta->norm_mean);
    free(meta->norm_std);
    memset(meta, 0, sizeof *meta);
}
