/* idx.c - the IDX (MNIST format) reader: an image file and (optionally) a label file, plain or
 * gzip.
 *
 * Everything the header claims is checked before it is trusted: the magic, the element type,
 * the 64-bit size of the data (before any allocation), the file length (plain files), the
 * presence of every byte (truncation), the absence of extra bytes, and the gzip CRC.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_TYPE_UBYTE 0x08u
#define IDX_TYPE_FLOAT 0x0Du
/* Refuse anything whose float copy would exceed 16 GiB: MNIST-sized data is 188 MB, so a
 * larger header is almost certainly garbage, and allocating first would turn it into a crash
 * or an OOM kill instead of a message. */
#define IDX_MAX_BYTES ((uint64_t)1 << 34)
#define IDX_CHUNK 16384

#if defined(__GNUC__)
#define IDX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IDX_PRINTF(a, b)
#endif

/* One open IDX file. off counts uncompressed bytes consumed, for messages. */
typedef struct idx_file {
    gzFile gz;
    const char *path;
    int is_gzip;
    int size_known; /* plain regular file: `size` is its length */
    uint64_t size;
    uint64_t off;
    uint64_t expect_len; /* header + data, once the header is read; 0 before */
} idx_file;

/* What a header declared, validated. */
typedef struct idx_header {
    unsigned type;  /* element type byte */
    uint32_t n;     /* items */
    uint32_t rows;  /* images only */
    uint32_t cols;  /* images only */
    uint64_t data_bytes;
    uint64_t header_bytes;
} idx_header;

static IDX_PRINTF(3, 4) void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *type_name(unsigned t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
    }
}

/* Opens through a file descriptor so that the gzip sniffing, the size and the stream all see
 * the same file. */
static clmlp_status idx_open(idx_file *f, const char *path, char *err, size_t errlen)
{
    unsigned char magic[2] = {0, 0};
    struct stat st;
    ssize_t got;
    int fd;

    memset(f, 0, sizeof *f);
    f->path = path;
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CLMLP_ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return CLMLP_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "%s: is a directory, not an IDX file", path);
        close(fd);
        return CLMLP_ERR_IO;
    }
    got = pread(fd, magic, 2, 0);
    f->is_gzip = got == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    if (!f->is_gzip && S_ISREG(st.st_mode)) {
        f->size_known = 1;
        f->size = (uint64_t)st.st_size;
    }
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        set_err(err, errlen, "%s: cannot open: out of memory", path);
        close(fd);
        return CLMLP_ERR_NOMEM;
    }
    gzbuffer(f->gz, 1u << 17);
    return CLMLP_OK;
}

/* Closes; reports a late error (zlib's own close failure) only when asked to. */
static clmlp_status idx_close(idx_file *f, int report, char *err, size_t errlen)
{
    int rc = Z_OK;
    if (f->gz)
        rc = gzclose_r(f->gz);
    f->gz = NULL;
    if (report && rc != Z_OK) {
        set_err(err, errlen, "%s: error closing the %s stream (zlib code %d)", f->path,
                f->is_gzip ? "gzip" : "file", rc);
        return CLMLP_ERR_IO;
    }
    return CLMLP_OK;
}

/* Reports why a read came up short: a gzip/zlib error, an I/O error or a plain end of file. */
static clmlp_status short_read(idx_file *f, size_t want, size_t got, const char *what,
                               char *err, size_t errlen)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(f->gz, &zerr);
    if (zerr == Z_ERRNO) {
        set_err(err, errlen, "%s: read error at byte offset %llu: %s", f->path,
                (unsigned long long)f->off, strerror(errno));
        return CLMLP_ERR_IO;
    }
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        /* zlib prefixes its message with the name it was opened under, "<fd:N>" here */
        if (zmsg && strncmp(zmsg, "<fd:", 4) == 0 && strstr(zmsg, ": "))
            zmsg = strstr(zmsg, ": ") + 2;
        set_err(err, errlen,
                "%s: gzip data is corrupt or truncated near uncompressed byte offset %llu "
                "(zlib: %s)", f->path, (unsigned long long)f->off, zmsg ? zmsg : "?");
        return zerr == Z_MEM_ERROR ? CLMLP_ERR_NOMEM : CLMLP_ERR_FORMAT;
    }
    if (f->off + got == 0) {
        set_err(err, errlen, "%s: empty file (expected %zu bytes of %s)", f->path, want, what);
        return CLMLP_ERR_FORMAT;
    }
    if (f->expect_len)
        set_err(err, errlen, "%s: truncated: the header promises %llu bytes in all, but the %s "
                "ends at byte offset %llu (in the %s)", f->path,
                (unsigned long long)f->expect_len, f->is_gzip ? "decompressed data" : "file",
                (unsigned long long)(f->off + got), what);
    else
        set_err(err, errlen, "%s: truncated: %s needs %zu bytes from byte offset %llu, but the "
                "%s ends at byte offset %llu", f->path, what, want, (unsigned long long)f->off,
                f->is_gzip ? "decompressed data" : "file", (unsigned long long)(f->off + got));
    return CLMLP_ERR_FORMAT;
}

/* Reads exactly len bytes (gzread takes an unsigned, so large reads go in pieces). */
static clmlp_status idx_read(idx_file *f, void *buf, size_t len, const char *what, char *err,
                             size_t errlen)
{
    unsigned char *p = buf;
    uint64_t start = f->off;
    size_t done = 0;
    while (done < len) {
        size_t piece = len - done > (1u << 30) ? (1u << 30) : len - done;
        int k = gzread(f->gz, p + done, (unsigned)piece);
        if (k <= 0)
            break;
        done += (size_t)k;
        f->off += (uint64_t)k;
    }
    if (done < len) {
        f->off = start; /* the message names where the missing item starts */
        return short_read(f, len, done, what, err, errlen);
    }
    return CLMLP_OK;
}

/* After the data the stream must end: one more byte is an error, and for gzip the attempt
 * is also what makes zlib verify the CRC and length in the trailer. */
static clmlp_status idx_expect_end(idx_file *f, char *err, size_t errlen)
{
    unsigned char extra;
    int zerr = Z_OK;
    int k = gzread(f->gz, &extra, 1);
    if (k > 0) {
        set_err(err, errlen, "%s: trailing bytes after byte offset %llu, where the header says "
                "the data ends", f->path, (unsigned long long)f->off);
        return CLMLP_ERR_FORMAT;
    }
    gzerror(f->gz, &zerr);
    if (k < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
        return short_read(f, 1, 0, "end of stream", err, errlen);
    return CLMLP_OK;
}

/* Checks the 4-byte magic: two zero bytes, the element type, the number of dimensions. */
static clmlp_status check_magic(const idx_file *f, uint32_t magic, unsigned want_dims,
                                int labels, char *err, size_t errlen)
{
    uint32_t want = want_dims == 1 ? IDX_MAGIC_LABELS : IDX_MAGIC_IMAGES;
    unsigned type = (magic >> 8) & 0xFFu, dims = magic & 0xFFu;
    if ((magic >> 16) != 0) {
        set_err(err, errlen, "%s: bad magic 0x%08X, expected 0x%08X (wrong byte order or not an "
                "IDX file)", f->path, (unsigned)magic, (unsigned)want);
        return CLMLP_ERR_FORMAT;
    }
    if (dims != want_dims) {
        set_err(err, errlen, "%s: magic %u, expected %u (0x%08X vs 0x%08X): an IDX file with %u "
                "dimension%s, not %s file", f->path, (unsigned)magic, (unsigned)want,
                (unsigned)magic, (unsigned)want, dims, dims == 1 ? "" : "s",
                labels ? "a label (idx1)" : "an image (idx3)");
        return CLMLP_ERR_FORMAT;
    }
    if (type != IDX_TYPE_UBYTE && (labels || type != IDX_TYPE_FLOAT)) {
        set_err(err, errlen, "%s: unsupported IDX element type 0x%02X (%s) for %s; supported: "
                "0x08 (unsigned byte)%s", f->path, type, type_name(type),
                labels ? "labels" : "images", labels ? "" : ", 0x0D (float32)");
        return CLMLP_ERR_FORMAT;
    }
    return CLMLP_OK;
}

/* Computes the data size in 64 bits, refusing overflow and absurd sizes; also the size of the
 * float copy, which is what gets allocated. */
static clmlp_status check_size(const idx_file *f, idx_header *h, int labels, char *err,
                               size_t errlen)
{
    uint64_t elem = h->type == IDX_TYPE_FLOAT ? 4 : 1;
    uint64_t count = h->n, float_bytes;
    if (h->n == 0) {
        set_err(err, errlen, "%s: header says 0 %s (no samples)", f->path,
                labels ? "labels" : "images");
        return CLMLP_ERR_FORMAT;
    }
    if (!labels) {
        if (h->rows == 0 || h->cols == 0) {
            set_err(err, errlen, "%s: header says images of %ux%u pixels", f->path,
                    (unsigned)h->rows, (unsigned)h->cols);
            return CLMLP_ERR_FORMAT;
        }
        count *= h->rows; /* two 32-bit factors: cannot overflow 64 bits */
        if (count > UINT64_MAX / h->cols) {
            set_err(err, errlen, "%s: header says %u images of %ux%u pixels: the pixel count "
                    "overflows 64 bits", f->path, (unsigned)h->n, (unsigned)h->rows,
                    (unsigned)h->cols);
            return CLMLP_ERR_NOMEM;
        }
        count *= h->cols;
    }
    if (count > UINT64_MAX / 4) {
        set_err(err, errlen, "%s: header says %llu values: the byte count overflows 64 bits",
                f->path, (unsigned long long)count);
        return CLMLP_ERR_NOMEM;
    }
    float_bytes = count * 4;
    if (float_bytes > IDX_MAX_BYTES || float_bytes > SIZE_MAX) {
        set_err(err, errlen, "%s: header says %u %s (%llu values): %llu bytes as float32, above "
                "the limit of %llu bytes", f->path, (unsigned)h->n, labels ? "labels" : "images",
                (unsigned long long)count, (unsigned long long)float_bytes,
                (unsigned long long)IDX_MAX_BYTES);
        return CLMLP_ERR_NOMEM;
    }
    h->data_bytes = count * elem;
    return CLMLP_OK;
}

/* A plain file's length must match the header exactly; checked before allocating so that a
 * header claiming more than the file holds costs nothing. */
static clmlp_status check_length(const idx_file *f, const idx_header *h, char *err,
                                 size_t errlen)
{
    uint64_t want = h->header_bytes + h->data_bytes;
    if (!f->size_known || f->size == want)
        return CLMLP_OK;
    if (f->size < want)
        set_err(err, errlen, "%s: truncated: the header promises %llu data bytes from byte "
                "offset %llu (file length %llu), but the file ends at byte offset %llu",
                f->path, (unsigned long long)h->data_bytes, (unsigned long long)h->header_bytes,
                (unsigned long long)want, (unsigned long long)f->size);
    else
        set_err(err, errlen, "%s: trailing bytes after byte offset %llu: the file has %llu "
                "bytes, the header accounts for %llu", f->path, (unsigned long long)want,
                (unsigned long long)f->size, (unsigned long long)want);
    return CLMLP_ERR_FORMAT;
}

/* Reads and validates a header: dims 1 (labels: n) or 3 (images: n, rows, cols). */
static clmlp_status read_header(idx_file *f, int labels, idx_header *h, char *err,
                                size_t errlen)
{
    unsigned char b[16];
    size_t len = labels ? 8 : 16;
    clmlp_status s;
    uint32_t magic;

    memset(h, 0, sizeof *h);
    s = idx_read(f, b, 4, labels ? "the IDX label header" : "the IDX image header", err, errlen);
    if (s != CLMLP_OK)
        return s;
    magic = be32(b);
    s = check_magic(f, magic, labels ? 1 : 3, labels, err, errlen);
    if (s != CLMLP_OK)
        return s;
    s = idx_read(f, b + 4, len - 4, "the rest of the IDX header", err, errlen);
    if (s != CLMLP_OK)
        return s;
    h->type = (magic >> 8) & 0xFFu;
    h->n = be32(b + 4);
    if (!labels) {
        h->rows = be32(b + 8);
        h->cols = be32(b + 12);
    }
    h->header_bytes = len;
    s = check_size(f, h, labels, err, errlen);
    if (s != CLMLP_OK)
        return s;
    f->expect_len = h->header_bytes + h->data_bytes;
    return check_length(f, h, err, errlen);
}

/* Makes room for `need` of the `total` floats in *X, doubling. Used when the stream's length
 * could not be checked against the header (gzip): the buffer then grows with the data actually
 * decompressed, so a tiny file whose header claims gigabytes fails at its real end instead of
 * first allocating what it claims. */
static clmlp_status grow_pixels(const idx_file *f, const idx_header *h, float **X, size_t *cap,
                                size_t need, size_t total, char *err, size_t errlen)
{
    size_t c = *cap ? *cap : IDX_CHUNK;
    float *p;
    if (need <= *cap)
        return CLMLP_OK;
    while (c < need)
        c = c > total / 2 ? total : c * 2; /* total <= IDX_MAX_BYTES / 4: no overflow */
    if (c > total)
        c = total;
    p = realloc(*X, c * sizeof *p);
    if (!p) {
        set_err(err, errlen, "%s: out of memory for %u images of %ux%u", f->path,
                (unsigned)h->n, (unsigned)h->rows, (unsigned)h->cols);
        return CLMLP_ERR_NOMEM;
    }
    *X = p;
    *cap = c;
    return CLMLP_OK;
}

/* Pixels in chunks: unsigned bytes are scaled by 1/255 (as float64, rounded once to float32,
 * so that they equal a float-typed file holding value/255); float32 is taken as stored. *X
 * holds *cap floats on entry and is grown as needed. */
static clmlp_status read_pixels(idx_file *f, const idx_header *h, float **Xp, size_t *cap,
                                char *err, size_t errlen)
{
    unsigned char buf[IDX_CHUNK];
    size_t elem = h->type == IDX_TYPE_FLOAT ? 4 : 1;
    size_t total = (size_t)h->data_bytes, done = 0, out = 0;
    float scale[256], *X;
    for (int v = 0; v < 256; v++)
        scale[v] = (float)(v / 255.0);
    while (done < total) {
        size_t len = total - done > IDX_CHUNK ? IDX_CHUNK : total - done;
        clmlp_status s = idx_read(f, buf, len, "pixel data", err, errlen);
        if (s == CLMLP_OK)
            s = grow_pixels(f, h, Xp, cap, out + len / elem, total / elem, err, errlen);
        if (s != CLMLP_OK)
            return s;
        X = *Xp;
        for (size_t i = 0; i < len; i += elem) {
            if (elem == 1) {
                X[out++] = scale[buf[i]];
                continue;
            }
            uint32_t bits = be32(buf + i);
            float v;
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v)) {
                set_err(err, errlen, "%s: non-finite float32 pixel at byte offset %llu",
                        f->path, (unsigned long long)(h->header_bytes + done + i));
                return CLMLP_ERR_FORMAT;
            }
            X[out++] = v;
        }
        done += len;
    }
    return idx_expect_end(f, err, errlen);
}

static clmlp_status read_labels(idx_file *f, const idx_header *h, int32_t *labels,
                                int *n_classes, char *err, size_t errlen)
{
    unsigned char buf[IDX_CHUNK];
    size_t total = h->n, done = 0;
    int max = 0;
    while (done < total) {
        size_t len = total - done > IDX_CHUNK ? IDX_CHUNK : total - done;
        clmlp_status s = idx_read(f, buf, len, "label data", err, errlen);
        if (s != CLMLP_OK)
            return s;
        for (size_t i = 0; i < len; i++) {
            labels[done + i] = buf[i];
            if (buf[i] > max)
                max = buf[i];
        }
        done += len;
    }
    *n_classes = max + 1;
    return idx_expect_end(f, err, errlen);
}

/* Opens both files (just the images when labels_path is NULL) and validates the headers and
 * their agreement; nothing is allocated yet. */
static clmlp_status open_pair(idx_file *img, idx_file *lab, idx_header *hi, idx_header *hl,
                              const char *images_path, const char *labels_path, char *err,
                              size_t errlen)
{
    clmlp_status s = idx_open(img, images_path, err, errlen);
    if (s != CLMLP_OK)
        return s;
    s = read_header(img, 0, hi, err, errlen);
    if (s != CLMLP_OK || !labels_path)
        return s;
    s = idx_open(lab, labels_path, err, errlen);
    if (s == CLMLP_OK)
        s = read_header(lab, 1, hl, err, errlen);
    if (s == CLMLP_OK && hl->n != hi->n) {
        set_err(err, errlen, "%u labels but %u images (labels %s, images %s)", (unsigned)hl->n,
                (unsigned)hi->n, labels_path, images_path);
        s = CLMLP_ERR_FORMAT;
    }
    return s;
}

/* The labels, once the pixels are in: n labels cost 4n bytes, and n is backed by real pixel
 * data by then. Labels are unsigned bytes, so none can exceed CLMLP_MAX_LABEL. */
static clmlp_status load_labels(idx_file *lab, const idx_header *hl, const char *labels_path,
                                clmlp_dataset *d, char *err, size_t errlen)
{
    if (!(d->labels = malloc(d->n * sizeof *d->labels))) {
        set_err(err, errlen, "%s: out of memory for %zu labels", labels_path, d->n);
        return CLMLP_ERR_NOMEM;
    }
    return read_labels(lab, hl, d->labels, &d->n_classes, err, errlen);
}

clmlp_status clmlp_idx_load(const char *images_path, const char *labels_path, clmlp_dataset *out,
                            char *err, size_t errlen)
{
    idx_file img, lab;
    idx_header hi, hl;
    clmlp_dataset d;
    clmlp_status s;
    size_t x_cap = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!out) {
        set_err(err, errlen, "clmlp_idx_load: no output dataset");
        return CLMLP_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!images_path) {
        set_err(err, errlen, "clmlp_idx_load: missing image path");
        return CLMLP_ERR_ARG;
    }
    memset(&img, 0, sizeof img);
    memset(&lab, 0, sizeof lab);
    memset(&d, 0, sizeof d);
    s = open_pair(&img, &lab, &hi, &hl, images_path, labels_path, err, errlen);
    if (s == CLMLP_OK) {
        d.n = hi.n;
        d.rows = hi.rows;
        d.cols = hi.cols;
        d.dim = d.rows * d.cols;
        /* check_size bounded n*dim*4 by IDX_MAX_BYTES and SIZE_MAX. A plain file's length was
         * matched to its header, so its pixels are known to be there and are allocated at once;
         * a gzip stream's are not, and read_pixels grows the buffer as they arrive. */
        if (img.size_known) {
            x_cap = d.n * d.dim;
            d.X = malloc(x_cap * sizeof *d.X);
            if (!d.X) {
                set_err(err, errlen, "%s: out of memory for %zu images of %zux%zu", images_path,
                        d.n, d.rows, d.cols);
                s = CLMLP_ERR_NOMEM;
            }
        }
    }
    if (s == CLMLP_OK)
        s = read_pixels(&img, &hi, &d.X, &x_cap, err, errlen);
    if (s == CLMLP_OK && labels_path)
        s = load_labels(&lab, &hl, labels_path, &d, err, errlen);
    if (s == CLMLP_OK)
        s = idx_close(&img, 1, err, errlen);
    if (s == CLMLP_OK && labels_path)
        s = idx_close(&lab, 1, err, errlen);
    idx_close(&img, 0, NULL, 0);
    idx_close(&lab, 0, NULL, 0);
    if (s != CLMLP_OK) {
        free(d.X);
        free(d.labels);
        return s;
    }
    *out = d;
    return CLMLP_OK;
}
