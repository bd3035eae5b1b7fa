/* ref_kernels.c - the plain-C twins of the kernels in kernels/, instantiated in float (ref_*)
 * and in double (refd_*) from one body, ref_kernels.inc. See ref_kernels.h for the naming rule
 * and host/clmlp.h for the layout. */
#include <math.h>

#include "clmlp.h"
#include "ref_kernels.h"

#define REAL float
#define REF(name) ref_##name
#include "ref_kernels.inc"
#undef REAL
#undef REF

#define REAL double
#define REF(name) refd_##name
#include "ref_kernels.inc"
#undef REAL
#undef REF
