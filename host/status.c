/* status.c - names of statuses and of the enums in clmlp.h, and their parsers. */
#include <string.h>
#include <strings.h>

#include "clmlp.h"

const char *clmlp_status_str(clmlp_status s)
{
    switch (s) {
    case CLMLP_OK: return "ok";
    case CLMLP_ERR_ARG: return "invalid argument";
    case CLMLP_ERR_NOMEM: return "out of memory or size overflow";
    case CLMLP_ERR_IO: return "I/O error";
    case CLMLP_ERR_FORMAT: return "bad file format";
    case CLMLP_ERR_OPENCL: return "OpenCL error";
    case CLMLP_ERR_NONFINITE: return "non-finite value";
    case CLMLP_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

static const char *const act_names[] = {"identity", "sigmoid", "tanh", "relu", "softmax"};
static const char *const loss_names[] = {"mse", "ce"};
static const char *const init_names[] = {"uniform", "xavier", "he"};
static const char *const opt_names[] = {"sgd", "momentum", "adam"};

const char *clmlp_act_name(clmlp_act a)
{
    return (unsigned)a < sizeof act_names / sizeof *act_names ? act_names[a] : "?";
}

const char *clmlp_loss_name(clmlp_loss l)
{
    return (unsigned)l < sizeof loss_names / sizeof *loss_names ? loss_names[l] : "?";
}

static int parse_name(const char *s, const char *const *names, int count)
{
    for (int i = 0; s && i < count; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

int clmlp_act_parse(const char *s, clmlp_act *out)
{
    int i = parse_name(s, act_names, 5);
    if (i < 0 && s && (strcasecmp(s, "linear") == 0 || strcasecmp(s, "none") == 0))
        i = CLMLP_ACT_IDENTITY;
    if (i < 0)
        return -1;
    *out = (clmlp_act)i;
    return 0;
}

int clmlp_loss_parse(const char *s, clmlp_loss *out)
{
    int i = parse_name(s, loss_names, 2);
    if (i < 0 && s && strcasecmp(s, "cross-entropy") == 0)
        i = CLMLP_LOSS_CE;
    if (i < 0)
        return -1;
    *out = (clmlp_loss)i;
    return 0;
}

int clmlp_init_parse(const char *s, clmlp_init *out)
{
    int i = parse_name(s, init_names, 3);
    if (i < 0)
        return -1;
    *out = (clmlp_init)i;
    return 0;
}

int clmlp_optimizer_parse(const char *s, clmlp_optimizer *out)
{
    int i = parse_name(s, opt_names, 3);
    if (i < 0)
        return -1;
    *out = (clmlp_optimizer)i;
    return 0;
}
