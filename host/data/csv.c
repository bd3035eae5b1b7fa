/* csv.c - the numeric CSV reader: one sample per line, an integer label column, float features.
 *
 * Strict by design: a cell is either a plain decimal number or an error naming its line and
 * field. Numbers are read in the "C" locale whatever the process locale is (a thread-local
 * uselocale switch), so '.' is the decimal point under de_DE as well.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/dataset.h"

#if defined(__GNUC__)
#define CSV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CSV_PRINTF(a, b)
#endif

/* Cells quoted in messages are clipped: a 100000-character cell must not fill the buffer. */
#define CSV_SHOW 40

/* Said when a ';' shows up where a number or a field count went wrong: such files come from
 * locales that separate with ';' and write decimal commas, which no message would otherwise
 * explain. */
#define CSV_SEMICOLON_HINT                                                                     \
    " (';' found: clmlp reads ',' as the separator and '.' as the decimal point)"

/* The state of one load; the arrays grow by doubling. */
typedef struct csv_state {
    const char *path;
    clmlp_csv_options opt;
    size_t line_no;
    size_t n_fields; /* fields per line, set by the header or the first data line; 0 before */
    int header_semicolon; /* the header line held a ';' (for the "only a header" message) */
    size_t dim;
    size_t n, cap;   /* samples stored, samples allocated */
    float *X;
    int32_t *labels;
    int32_t max_label;
    char *err;
    size_t errlen;
} csv_state;

static CSV_PRINTF(3, 4) void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "FILE:LINE:FIELD: <before>'cell'<after>", the cell clipped to CSV_SHOW characters. */
static clmlp_status cell_err(csv_state *st, size_t field, const char *before, const char *cell,
                             size_t len, const char *after)
{
    int shown = len > CSV_SHOW ? CSV_SHOW : (int)len;
    set_err(st->err, st->errlen, "%s:%zu:%zu: %s'%.*s%s'%s", st->path, st->line_no, field,
            before, shown, cell, len > CSV_SHOW ? "..." : "", after);
    return CLMLP_ERR_FORMAT;
}

clmlp_csv_options clmlp_csv_options_default(void)
{
    clmlp_csv_options o;
    o.label_column = 0;
    o.header = -1;
    o.n_classes = 0;
    return o;
}

static int is_blank_char(char c) { return c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int has_labels(const csv_state *st) { return st->opt.label_column >= 0; }

static const char *semicolon_hint(const char *s, size_t len)
{
    return memchr(s, ';', len) ? CSV_SEMICOLON_HINT : "";
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

/* Strict decimal syntax: [+-] digits [. digits] [(e|E) [+-] digits], at least one mantissa
 * digit. Everything strtod would also take (hex, inf, nan, locale forms) is excluded here. */
static int is_decimal(const char *s, size_t len)
{
    size_t i = 0, mant = 0, exp_digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < len && is_digit(s[i]); i++)
        mant++;
    if (i < len && s[i] == '.')
        for (i++; i < len && is_digit(s[i]); i++)
            mant++;
    if (mant == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < len && is_digit(s[i]); i++)
            exp_digits++;
        if (exp_digits == 0)
            return 0;
    }
    return i == len;
}

/* The spellings strtof would turn into NaN or infinity; named separately in messages. */
static int is_nonfinite_word(const char *s, size_t len)
{
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        s++;
        len--;
    }
    return (len == 3 && (strncasecmp(s, "nan", 3) == 0 || strncasecmp(s, "inf", 3) == 0)) ||
           (len == 8 && strncasecmp(s, "infinity", 8) == 0) ||
           (len > 4 && strncasecmp(s, "nan(", 4) == 0);
}

/* cell is NUL-terminated at cell[len]. */
static clmlp_status parse_feature(csv_state *st, size_t field, const char *cell, size_t len,
                                  float *out)
{
    char *end;
    float v;
    if (is_nonfinite_word(cell, len))
        return cell_err(st, field, "non-finite value ", cell, len, "");
    if (!is_decimal(cell, len))
        return cell_err(st, field, "", cell, len,
                        memchr(cell, ';', len) ? " is not a number" CSV_SEMICOLON_HINT
                                               : " is not a number");
    errno = 0;
    v = strtof(cell, &end);
    if (end != cell + len) /* cannot happen for a valid decimal in the C locale; be safe */
        return cell_err(st, field, "", cell, len, " is not a number");
    if (!isfinite(v))
        return cell_err(st, field, "non-finite value ", cell, len, " (outside the float range)");
    *out = v; /* an underflow (ERANGE towards 0) is a tiny value, accepted as rounded */
    return CLMLP_OK;
}

static clmlp_status parse_label(csv_state *st, size_t field, const char *cell, size_t len,
                                int32_t *out)
{
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(cell[i])) {
            const char *why = is_decimal(cell, len) ? " is not a non-negative integer"
                                                    : " is not a number";
            return cell_err(st, field, "label ", cell, len, why);
        }
        if (v <= CLMLP_MAX_LABEL) /* stops growing once too large: no overflow */
            v = v * 10 + (cell[i] - '0');
    }
    if (v > CLMLP_MAX_LABEL) {
        int shown = len > CSV_SHOW ? CSV_SHOW : (int)len;
        set_err(st->err, st->errlen, "%s:%zu:%zu: label %.*s%s is above %d, the largest class "
                "clmlp supports", st->path, st->line_no, field, shown, cell,
                len > CSV_SHOW ? "..." : "", CLMLP_MAX_LABEL);
        return CLMLP_ERR_FORMAT;
    }
    if (st->opt.n_classes > 0 && v >= st->opt.n_classes) {
        set_err(st->err, st->errlen, "%s:%zu:%zu: label %ld is outside [0, %d]", st->path,
                st->line_no, field, v, st->opt.n_classes - 1);
        return CLMLP_ERR_FORMAT;
    }
    *out = (int32_t)v;
    return CLMLP_OK;
}

static size_t count_fields(const char *line, size_t len)
{
    size_t n = 1;
    for (const char *p = line; (p = memchr(p, ',', len - (size_t)(p - line))) != NULL; p++)
        n++;
    return n;
}

/* Trims spaces and tabs from [*b, *e). */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_blank_char(**b))
        (*b)++;
    while (*e > *b && is_blank_char((*e)[-1]))
        (*e)--;
}

/* Room for one more sample; sizes are checked against SIZE_MAX before multiplying. */
static clmlp_status reserve_row(csv_state *st)
{
    size_t cap;
    float *X;
    int32_t *labels;
    if (st->n < st->cap)
        return CLMLP_OK;
    /* Start with about a MiB of rows (at least one), then double: memory stays within twice
     * what the file really holds, even for one enormous line. */
    size_t first = st->dim ? ((size_t)1 << 18) / st->dim : 64;
    cap = st->cap ? st->cap * 2 : (first < 1 ? 1 : first > 64 ? 64 : first);
    if (cap < st->cap || cap > SIZE_MAX / sizeof(float) / st->dim)
        goto nomem;
    X = realloc(st->X, cap * st->dim * sizeof *X);
    if (!X)
        goto nomem;
    st->X = X;
    if (has_labels(st)) {
        labels = realloc(st->labels, cap * sizeof *labels);
        if (!labels)
            goto nomem;
        st->labels = labels;
    }
    st->cap = cap;
    return CLMLP_OK;
nomem:
    set_err(st->err, st->errlen, "%s:%zu: out of memory growing the data to %zu samples of %zu "
            "features", st->path, st->line_no, st->n + 1, st->dim);
    return CLMLP_ERR_NOMEM;
}

/* The first data line fixes the field count unless a header did. */
static clmlp_status check_field_count(csv_state *st, const char *line, size_t len,
                                      size_t fields)
{
    if (st->n_fields == 0)
        st->n_fields = fields;
    if (fields != st->n_fields) {
        set_err(st->err, st->errlen, "%s:%zu: expected %zu field%s, found %zu%s", st->path,
                st->line_no, st->n_fields, plural(st->n_fields), fields,
                semicolon_hint(line, len));
        return CLMLP_ERR_FORMAT;
    }
    if (!has_labels(st)) {
        st->dim = fields; /* count_fields counts at least one */
        return CLMLP_OK;
    }
    if (fields < 2 || (size_t)st->opt.label_column >= fields) {
        set_err(st->err, st->errlen, "%s:%zu: %zu field%s: need the label (column %d, 0-based) "
                "and at least one feature%s", st->path, st->line_no, fields, plural(fields),
                st->opt.label_column, semicolon_hint(line, len));
        return CLMLP_ERR_FORMAT;
    }
    st->dim = fields - 1;
    return CLMLP_OK;
}

/* Parses one cell: NUL-terminates it in place (the line is ours) and stores it. */
static clmlp_status parse_cell(csv_state *st, size_t field, const char *b, const char *e,
                               float **feature)
{
    size_t len;
    trim(&b, &e);
    len = (size_t)(e - b);
    if (len == 0) {
        set_err(st->err, st->errlen, "%s:%zu:%zu: empty field", st->path, st->line_no, field);
        return CLMLP_ERR_FORMAT;
    }
    if (memchr(b, '"', len) || memchr(b, '\'', len))
        return cell_err(st, field, "quoted fields are not supported: ", b, len,
                        " (write plain numbers with '.' as the decimal point)");
    *(char *)e = '\0';
    if (has_labels(st) && field - 1 == (size_t)st->opt.label_column)
        return parse_label(st, field, b, len, &st->labels[st->n]);
    return parse_feature(st, field, b, len, (*feature)++);
}

static clmlp_status parse_row(csv_state *st, char *line, size_t len)
{
    const char *p = line, *end = line + len;
    float *feature;
    size_t field = 1;
    clmlp_status s = check_field_count(st, line, len, count_fields(line, len));
    if (s == CLMLP_OK)
        s = reserve_row(st);
    if (s != CLMLP_OK)
        return s;
    feature = st->X + st->n * st->dim;
    for (;; field++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *cell_end = comma ? comma : end;
        s = parse_cell(st, field, p, cell_end, &feature);
        if (s != CLMLP_OK || !comma)
            break;
        p = comma + 1;
    }
    if (s != CLMLP_OK)
        return s;
    if (has_labels(st) && st->labels[st->n] > st->max_label)
        st->max_label = st->labels[st->n];
    st->n++;
    return CLMLP_OK;
}

/* Without a label column: a header when none of its cells is a number, so that a typo in one
 * cell of line 1 is still an error rather than a skipped "header". */
static int all_cells_non_numeric(const char *line, size_t len)
{
    const char *b = line, *end = line + len;
    for (;;) {
        const char *comma = memchr(b, ',', (size_t)(end - b));
        const char *e = comma ? comma : end, *cb = b;
        trim(&cb, &e);
        if (is_decimal(cb, (size_t)(e - cb)))
            return 0;
        if (!comma)
            return 1;
        b = comma + 1;
    }
}

/* Detection rule: a header's label cell is a name, a data line's is a number. Deciding on the
 * label cell alone keeps a typo elsewhere on line 1 an error instead of a skipped "header". */
static int looks_like_header(const csv_state *st, const char *line, size_t len)
{
    const char *b = line, *end = line + len, *e;
    if (!has_labels(st))
        return all_cells_non_numeric(line, len);
    for (int col = 0; col < st->opt.label_column; col++) {
        b = memchr(b, ',', (size_t)(end - b));
        if (!b)
            return 0; /* too few fields: let the data parser say so */
        b++;
    }
    e = memchr(b, ',', (size_t)(end - b));
    if (!e)
        e = end;
    trim(&b, &e);
    return !is_decimal(b, (size_t)(e - b));
}

/* Drops the line end (LF or CRLF, and stray CRs before it). */
static size_t strip_eol(char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    return len;
}

static int is_blank_line(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_blank_char(line[i]))
            return 0;
    return 1;
}

/* A CR left inside a line after its end is stripped. When the first line is the whole file
 * (no LF anywhere), the file uses classic Mac line ends, which would otherwise read as one
 * strange line and be taken for a header. */
static clmlp_status check_cr(const csv_state *st, const char *line, size_t len, int had_lf)
{
    if (!memchr(line, '\r', len))
        return CLMLP_OK;
    if (st->line_no == 1 && !had_lf)
        set_err(st->err, st->errlen, "%s: lines end with CR only (classic Mac); convert to LF "
                "or CRLF", st->path);
    else
        set_err(st->err, st->errlen, "%s:%zu: carriage return (CR) inside the line: mixed CR "
                "and LF line ends? convert to LF or CRLF", st->path, st->line_no);
    return CLMLP_ERR_FORMAT;
}

/* Handles one physical line: BOM, NUL bytes, CRs, blank lines, the header, then data. */
static clmlp_status handle_line(csv_state *st, char *line, size_t len, int *seen_first)
{
    int had_lf;
    clmlp_status s;
    if (st->line_no == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (memchr(line, '\0', len)) {
        set_err(st->err, st->errlen, "%s:%zu: NUL byte in a text line (a binary file?)",
                st->path, st->line_no);
        return CLMLP_ERR_FORMAT;
    }
    had_lf = len > 0 && line[len - 1] == '\n';
    len = strip_eol(line, len);
    s = check_cr(st, line, len, had_lf);
    if (s != CLMLP_OK)
        return s;
    if (is_blank_line(line, len))
        return CLMLP_OK;
    if (!*seen_first) {
        *seen_first = 1;
        if (st->opt.header == 1 ||
            (st->opt.header == -1 && looks_like_header(st, line, len))) {
            st->n_fields = count_fields(line, len);
            st->header_semicolon = memchr(line, ';', len) != NULL;
            return CLMLP_OK;
        }
    }
    return parse_row(st, line, len);
}

static clmlp_status read_lines(csv_state *st, FILE *fp)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int seen_first = 0;
    clmlp_status s = CLMLP_OK;
    for (;;) {
        errno = 0;
        got = getline(&line, &cap, fp);
        if (got < 0)
            break;
        st->line_no++;
        s = handle_line(st, line, (size_t)got, &seen_first);
        if (s != CLMLP_OK)
            break;
    }
    if (s == CLMLP_OK && got < 0 && (ferror(fp) || errno == ENOMEM)) {
        int e = errno;
        set_err(st->err, st->errlen, "%s:%zu: read error: %s", st->path, st->line_no + 1,
                strerror(e));
        s = e == ENOMEM ? CLMLP_ERR_NOMEM : CLMLP_ERR_IO;
    }
    free(line);
    return s;
}

/* The load proper, run with the C locale selected for this thread. */
static clmlp_status csv_load_c_locale(csv_state *st, clmlp_dataset *out)
{
    clmlp_status s;
    struct stat sb;
    FILE *fp = fopen(st->path, "rb");
    if (!fp) {
        set_err(st->err, st->errlen, "%s: cannot open: %s", st->path, strerror(errno));
        return CLMLP_ERR_IO;
    }
    if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) { /* fopen opens folders too */
        set_err(st->err, st->errlen, "%s: is a directory, not a CSV file", st->path);
        fclose(fp);
        return CLMLP_ERR_IO;
    }
    s = read_lines(st, fp);
    fclose(fp);
    if (s == CLMLP_OK && st->n == 0) {
        set_err(st->err, st->errlen, "%s: no samples%s%s", st->path,
                st->n_fields ? " (only a header line)" : "",
                st->header_semicolon ? CSV_SEMICOLON_HINT : "");
        s = CLMLP_ERR_FORMAT;
    }
    if (s != CLMLP_OK) {
        free(st->X);
        free(st->labels);
        return s;
    }
    out->n = st->n;
    out->dim = st->dim;
    out->X = st->X;
    out->labels = st->labels; /* NULL without a label column */
    out->n_classes = has_labels(st) ? (int)st->max_label + 1 : 0;
    return CLMLP_OK;
}

static clmlp_status check_options(const char *path, const clmlp_csv_options *opt, char *err,
                                  size_t errlen)
{
    if (opt->label_column < -1 || opt->header < -1 || opt->header > 1 || opt->n_classes < 0) {
        set_err(err, errlen, "%s: bad CSV options (label_column %d, header %d, n_classes %d)",
                path, opt->label_column, opt->header, opt->n_classes);
        return CLMLP_ERR_ARG;
    }
    return CLMLP_OK;
}

clmlp_status clmlp_csv_load(const char *path, const clmlp_csv_options *opt, clmlp_dataset *out,
                            char *err, size_t errlen)
{
    csv_state st;
    locale_t c_loc, old;
    clmlp_status s;

    if (err && errlen)
        err[0] = '\0';
    if (!out || !path) {
        set_err(err, errlen, "clmlp_csv_load: missing %s", out ? "path" : "output dataset");
        return CLMLP_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    memset(&st, 0, sizeof st);
    st.path = path;
    st.opt = opt ? *opt : clmlp_csv_options_default();
    st.err = err;
    st.errlen = errlen;
    s = check_options(path, &st.opt, err, errlen);
    if (s != CLMLP_OK)
        return s;
    c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_loc == (locale_t)0) {
        set_err(err, errlen, "%s: cannot create the C locale: %s", path, strerror(errno));
        return CLMLP_ERR_NOMEM;
    }
    old = uselocale(c_loc);
    s = csv_load_c_locale(&st, out);
    uselocale(old);
    freelocale(c_loc);
    return s;
}
