/* cli_trace.c - the CLI's view of per-layer gradient diagnostics: compact printed lines and the
 * per-layer columns of the metrics CSV (see cli_trace.h). Layers are numbered from 1 here, as
 * in every other message of the CLI. */
#include <inttypes.h>

#include "cli_trace.h"

void cli_trace_csv_header(FILE *f, int n_layers)
{
    fputs(",step", f);
    for (int l = 1; l <= n_layers; l++)
        fprintf(f, ",L%d_delta,L%d_gnorm,L%d_wnorm,L%d_sat", l, l, l, l);
}

void cli_trace_csv_fields(FILE *f, const clmlp_trace_report *t)
{
    fprintf(f, ",%" PRIu64, t->step);
    for (int l = 0; l < t->n_layers; l++) {
        const clmlp_layer_stats *s = &t->layer[l];
        /* %.6e: deltas span many orders of magnitude, so relative precision is what counts */
        fprintf(f, ",%.6e,%.6e,%.6e,%.6f", s->mean_abs_delta, s->grad_norm, s->weight_norm,
                s->saturated_fraction);
    }
}

void cli_trace_print(FILE *f, const clmlp_trace_report *t)
{
    char step[32];
    snprintf(step, sizeof step, "step %" PRIu64, t->step);
    for (int l = 0; l < t->n_layers; l++) {
        const clmlp_layer_stats *s = &t->layer[l];
        fprintf(f, "  %-11s L%-2d |delta| %.3e  |dW| %.3e  |W| %8.4g  sat %5.1f%%\n",
                l ? "" : step, l + 1, s->mean_abs_delta, s->grad_norm, s->weight_norm,
                100.0 * s->saturated_fraction);
    }
}
