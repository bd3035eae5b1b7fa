/* make_seeds.c - writes the fuzzers' seed corpora: the IDX and CSV files in tests/cases wrapped
 * in each target's input layout (see the top of fuzz_idx.c and fuzz_csv.c), a few generated
 * valid files (IDX plain and gzip, CSV, models saved through the real model_io API).
 *
 * Usage: make_seeds CASES_DIR OUT_DIR    (writes OUT_DIR/{idx,csv,model}/; the folders must
 * exist). Seeds only need to be reachable starting points, so any file it cannot read is
 * skipped with a warning rather than failing the run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmlp.h"
#include "model_io.h"

typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

static const char *g_out;
static int g_count;

static blob read_file(const char *dir, const char *name)
{
    char path[4096];
    blob b = {NULL, 0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "make_seeds: skipping %s\n", path);
        return b;
    }
    size_t cap = 4096;
    b.p = malloc(cap);
    for (size_t k; b.p && (k = fread(b.p + b.n, 1, cap - b.n, f)) > 0;) {
        b.n += k;
        if (b.n == cap)
            b.p = realloc(b.p, cap *= 2);
    }
    fclose(f);
    if (!b.p)
        b.n = 0;
    return b;
}

/* Writes OUT/kind/name holding prefix (plen bytes) then a then b. */
static void seed(const char *kind, const char *name, const void *prefix, size_t plen,
                 const void *a, size_t alen, const void *b, size_t blen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", g_out, kind, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    if ((plen && fwrite(prefix, 1, plen, f) != plen) || (alen && fwrite(a, 1, alen, f) != alen) ||
        (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    g_count++;
}

/* fuzz_idx's 3-byte prefix: flags, then the split point big-endian. */
static void idx_seed(const char *name, unsigned flags, const blob *img, const blob *lab)
{
    size_t split = img ? img->n : 0;
    unsigned char pre[3] = {(unsigned char)flags, (unsigned char)(split >> 8),
                            (unsigned char)split};
    seed("idx", name, pre, 3, img ? img->p : NULL, img ? img->n : 0, lab ? lab->p : NULL,
         lab ? lab->n : 0);
}

static int has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

static void idx_seeds(const char *cases)
{
    blob imgs[32], labs[32];
    char inames[32][256], lnames[32][256];
    int ni = 0, nl = 0;
    DIR *d = opendir(cases);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        int is_img = has(n, "images") && !has(n, ".py"), is_lab = has(n, "idx1");
        if (is_img && ni < 32) {
            snprintf(inames[ni], sizeof inames[ni], "%s", n);
            imgs[ni++] = read_file(cases, n);
        } else if (is_lab && nl < 32) {
            snprintf(lnames[nl], sizeof lnames[nl], "%s", n);
            labs[nl++] = read_file(cases, n);
        }
    }
    if (d)
        closedir(d);
    char name[600];
    for (int i = 0; i < ni; i++) {
        snprintf(name, sizeof name, "img_%s", inames[i]);
        idx_seed(name, 1, &imgs[i], NULL);
        for (int l = 0; l < nl; l++) {
            snprintf(name, sizeof name, "pair_%.250s+%.250s", inames[i], lnames[l]);
            idx_seed(name, 0, &imgs[i], &labs[l]);
        }
    }
    for (int l = 0; l < nl; l++) {
        snprintf(name, sizeof name, "lab_%s", lnames[l]);
        idx_seed(name, 2, NULL, &labs[l]);
    }
    for (int i = 0; i < ni; i++)
        free(imgs[i].p);
    for (int l = 0; l < nl; l++)
        free(labs[l].p);

    /* Generated: 3 images of 2x2 (matching fuzz_idx's fixed label file) as ubyte and float32,
     * with every gzip choice, so each mode starts from a file that loads. */
    static unsigned char u8[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                        0, 1, 2, 3, 100, 101, 102, 103, 252, 253, 254, 255};
    static unsigned char f32[16 + 48] = {0, 0, 0x0D, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    static unsigned char lab3[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 0, 2};
    for (int k = 0; k < 12; k++) { /* 0.5 * k, big-endian binary32 */
        float v = 0.5f * (float)k;
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        for (int j = 0; j < 4; j++)
            f32[16 + 4 * k + j] = (unsigned char)(bits >> (24 - 8 * j));
    }
    blob bu8 = {u8, sizeof u8}, bf32 = {f32, sizeof f32}, blab = {lab3, sizeof lab3};
    for (unsigned gz = 0; gz < 4; gz++) {
        snprintf(name, sizeof name, "gen_pair_u8_gz%u", gz);
        idx_seed(name, gz << 2, &bu8, &blab);
        snprintf(name, sizeof name, "gen_pair_f32_gz%u", gz);
        idx_seed(name, gz << 2, &bf32, &blab);
    }
    idx_seed("gen_img_u8_gz", 1 | 4, &bu8, NULL);
    idx_seed("gen_img_f32", 1, &bf32, NULL);
    idx_seed("gen_img_only_u8", 3, &bu8, NULL);
    idx_seed("gen_img_only_f32_gz", 3 | 4, &bf32, NULL);
    idx_seed("gen_lab_gz", 2 | 8, NULL, &blab);
}

static void csv_seeds(const char *cases)
{
    /* A few option bytes per file: defaults; a header and n_classes 10; label in column 1; no
     * label column. */
    static const unsigned char opts[] = {0x00, 0xA8, 0x01, 0x03};
    DIR *d = opendir(cases);
    struct dirent *e;
    char name[600];
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".csv") != 0)
            continue;
        blob b = read_file(cases, e->d_name);
        for (size_t k = 0; k < sizeof opts; k++) {
            snprintf(name, sizeof name, "%s_opt%02x", e->d_name, opts[k]);
            seed("csv", name, &opts[k], 1, b.p, b.n, NULL, 0);
        }
        free(b.p);
    }
    if (d)
        closedir(d);
    static const char ok[] = "label,a,b,c\r\n0,1.5,-2e-3,+7\r\n\r\n3, 0.25 ,1E+2,-0\r\n2,1,2,3";
    seed("csv", "gen_header_crlf", "\x00", 1, ok, sizeof ok - 1, NULL, 0);
    static const char bom[] = "\xEF\xBB\xBF" "1.0,2,0\n4,5,1\n";
    seed("csv", "gen_bom_label_col2", "\x02", 1, bom, sizeof bom - 1, NULL, 0);
}

/* Saves a small network through clmlp_model_save, so the seed is exactly what clmlp writes. */
static void model_seed(const char *name, int n_layers, const size_t *sizes, const clmlp_act *act,
                       clmlp_loss loss, int with_norm)
{
    clmlp_net *net = NULL;
    char err[512], path[4096];
    if (clmlp_net_create(&net, n_layers, sizes, act, loss, err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "make_seeds: %s: %s\n", name, err);
        exit(1);
    }
    clmlp_net_init(net, CLMLP_INIT_XAVIER, 42);
    float mean[8], std[8];
    clmlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.seed = 42;
    meta.epochs = 3;
    snprintf(meta.device, sizeof meta.device, "cpu-reference");
    if (with_norm) {
        for (size_t k = 0; k < sizes[0] && k < 8; k++) {
            mean[k] = 0.1f * (float)k;
            std[k] = k == 0 ? 0.0f : 1.0f + (float)k; /* 0: a constant feature */
        }
        meta.norm_dim = sizes[0];
        meta.norm_mean = mean;
        meta.norm_std = std;
    }
    snprintf(path, sizeof path, "%s/model/%s", g_out, name);
    if (clmlp_model_save(path, net, &meta, err, sizeof err) != CLMLP_OK) {
        fprintf(stderr, "make_seeds: %s\n", err);
        exit(1);
    }
    clmlp_net_free(net);
    g_count++;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASES_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    g_out = argv[2];
    idx_seeds(argv[1]);
    csv_seeds(argv[1]);
    {
        size_t s[] = {3, 4, 2};
        clmlp_act a[] = {CLMLP_ACT_SIGMOID, CLMLP_ACT_SOFTMAX};
        model_seed("ce_softmax_norm.clmlp", 2, s, a, CLMLP_LOSS_CE, 1);
    }
    {
        size_t s[] = {2, 1};
        clmlp_act a[] = {CLMLP_ACT_TANH};
        model_seed("mse_one_layer.clmlp", 1, s, a, CLMLP_LOSS_MSE, 0);
    }
    {
        size_t s[] = {2, 3, 3, 1};
        clmlp_act a[] = {CLMLP_ACT_RELU, CLMLP_ACT_IDENTITY, CLMLP_ACT_SIGMOID};
        model_seed("mse_three_layers.clmlp", 3, s, a, CLMLP_LOSS_MSE, 1);
    }
    printf("make_seeds: %d seeds in %s\n", g_count, g_out);
    return 0;
}
