/* cli_model.h - a loaded model as eval and predict use it: load, fit data to it, predict. */
#ifndef CLMLP_CLI_MODEL_H
#define CLMLP_CLI_MODEL_H

#include <stdio.h>

#include "clmlp.h"
#include "data/dataset.h"
#include "model_io.h"

typedef struct cli_model {
    clmlp_net *net;
    clmlp_model_meta meta;
} cli_model;

/* Loads path into m (zeroed on failure); prints the error. */
int cli_model_load(const char *cmd, const char *path, cli_model *m);
void cli_model_free(cli_model *m);
/* The model's output width: its number of classes. */
int cli_model_classes(const cli_model *m);
/* Checks the data's width (and labels when `labelled`) against the model and applies the
 * model's standardisation; messages name `path`, where the data came from. */
int cli_model_prepare_data(const char *cmd, const cli_model *m, const char *path,
                           clmlp_dataset *d, int labelled);
/* Runs the model on every sample of d; *P gets n x outputs (caller frees). When `announce` is
 * a stream, the device's name is printed on it. Fails, naming `path` (where d came from) and
 * the sample, when an output is NaN or Inf: finite inputs can still overflow a layer's float32
 * sums, and a NaN would otherwise be printed as a probability, or counted as class 0. */
int cli_model_predict(const char *cmd, const cli_model *m, const char *device, const char *path,
                      const clmlp_dataset *d, FILE *announce, float **P);
/* Index of the largest of k values; ties go to the lowest index. */
size_t cli_argmax(const float *p, size_t k);

#endif
