/* cli_trace.h - how the CLI shows per-layer gradient diagnostics (clmlp_trace_report): the
 * compact lines of `train --trace-grads` and the per-layer columns of the --log CSV. */
#ifndef CLMLP_CLI_TRACE_H
#define CLMLP_CLI_TRACE_H

#include <stdio.h>

#include "train.h"

/* ",step,L1_delta,L1_gnorm,L1_wnorm,L1_sat,L2_delta,..." for a network of n_layers layers. */
void cli_trace_csv_header(FILE *f, int n_layers);
/* ",STEP,..." : the values of the columns named by cli_trace_csv_header. */
void cli_trace_csv_fields(FILE *f, const clmlp_trace_report *t);
/* One line per layer: "  step N  L1  |delta| 3.1e-06  |dW| 2.0e-03  |W| 8.12  sat 12.3%". */
void cli_trace_print(FILE *f, const clmlp_trace_report *t);

#endif
