/* cli_fit.c - refuses a network that cannot fit the chosen device or this host before anything
 * is allocated (shared/cases C17): minutes of host allocation followed by a device error, or an
 * out-of-memory kill, are worse than one line up front. */
#include <stdio.h>
#include <unistd.h>

#include "cl/cl_util.h"
#include "cli_common.h"

/* Physical memory of this host in bytes (0 when unknown). */
static unsigned long long host_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (unsigned long long)pages * (unsigned long long)size : 0;
}

/* The device's largest single buffer and its total memory. */
static int device_limits(const char *cmd, const char *device, cl_ulong *max_alloc, cl_ulong *global)
{
    clmlp_cl_device d;
    char err[2048];
    if (clmlp_cl_pick_device(device, &d, err, sizeof err) != CLMLP_OK ||
        clGetDeviceInfo(d.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof *max_alloc, max_alloc, NULL) ||
        clGetDeviceInfo(d.device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof *global, global, NULL)) {
        cli_err(cmd, "%s", err);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cli_check_fits(const char *cmd, const char *device, int L, const size_t *sizes, size_t batch)
{
    size_t params = clmlp_net_param_bytes(L, sizes);
    if (params == 0) {
        cli_err(cmd, "the network's parameter count overflows this machine's address space");
        return CLI_EXIT_FAIL;
    }
    /* Host: the network, the engine's copy and the best parameters kept by training. */
    unsigned long long host = host_memory();
    if (host && (unsigned long long)params > host / 3) {
        cli_err(cmd, "the network needs %zu bytes of parameters, held three times on the host; "
                "this host has %llu bytes of memory", params, host);
        return CLI_EXIT_FAIL;
    }
    if (cli_backend(device) == CLMLP_BACKEND_REF)
        return CLI_EXIT_OK;
    cl_ulong max_alloc = 0, global = 0;
    if (device_limits(cmd, device, &max_alloc, &global) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    if (params > max_alloc) {
        cli_err(cmd, "the parameters need %zu bytes; the device's maximum single allocation is "
                "%llu bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE)", params, (unsigned long long)max_alloc);
        return CLI_EXIT_FAIL;
    }
    /* parameters, gradients and two optimizer moments, plus activations and deltas */
    unsigned long long need = 4ULL * params;
    for (int l = 1; l <= L; l++)
        need += 2ULL * batch * sizes[l] * sizeof(float);
    if (need > global) {
        cli_err(cmd, "training this network needs about %llu bytes of device memory; the device "
                "has %llu (CL_DEVICE_GLOBAL_MEM_SIZE)", need, (unsigned long long)global);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
