/* cmd_devices.c - `clmlp devices`: every OpenCL platform and device with the limits that matter
 * for training (compute units, work-group size, memories, fp64). */
#include <stdio.h>
#include <string.h>

#include "cl/cl_util.h"
#include "cli_cmds.h"
#include "cli_common.h"

#define MAX_DEVICES 64

static const char devices_help[] =
    "Usage: clmlp devices\n"
    "Lists every OpenCL platform and device with its index (for --device), type, compute\n"
    "units, max work-group size, local, global and max-allocation memory and fp64 support.\n"
    "The CPU reference backend is always available as --device cpu.\n"
    "  --help   show this help\n";

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    return "other";
}

/* Formats a byte count as MiB/GiB, or the query's error name when it failed. */
static void fmt_bytes(char *buf, size_t len, cl_int rc, cl_ulong v)
{
    if (rc != CL_SUCCESS)
        snprintf(buf, len, "? (%s)", clmlp_cl_error_name(rc));
    else if (v >= (1ull << 30))
        snprintf(buf, len, "%.1f GiB", (double)v / (double)(1ull << 30));
    else if (v >= (1ull << 20))
        snprintf(buf, len, "%.1f MiB", (double)v / (double)(1ull << 20));
    else
        snprintf(buf, len, "%llu KiB", (unsigned long long)(v >> 10));
}

static void print_ulong(const char *label, cl_device_id d, cl_device_info what)
{
    cl_ulong v = 0;
    char buf[64];
    cl_int rc = clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    fmt_bytes(buf, sizeof buf, rc, v);
    printf("    %-20s %s\n", label, buf);
}

static void print_fp64(cl_device_id d)
{
    cl_device_fp_config cfg = 0;
    char ext[8192] = "";
    cl_int rc = clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof cfg, &cfg, NULL);
    /* 1.2 devices may report fp64 only through the extension string */
    cl_int rc2 = clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sizeof ext - 1, ext, NULL);
    if (rc != CL_SUCCESS && rc2 != CL_SUCCESS) {
        printf("    %-20s ? (%s)\n", "fp64", clmlp_cl_error_name(rc));
        return;
    }
    int yes = (rc == CL_SUCCESS && cfg != 0) || (rc2 == CL_SUCCESS && strstr(ext, "cl_khr_fp64"));
    printf("    %-20s %s\n", "fp64", yes ? "yes" : "no");
}

static void print_device(const clmlp_cl_device *dev, int show_platform)
{
    cl_device_id d = dev->device;
    cl_uint cu = 0;
    size_t wg = 0;
    char version[256] = "";
    if (show_platform)
        printf("platform: %s\n", dev->platform_name);
    printf("  [%d] %s (%s)\n", dev->index, dev->name, type_name(dev->type));
    cl_int rc = clGetDeviceInfo(d, CL_DEVICE_VERSION, sizeof version - 1, version, NULL);
    printf("    %-20s %s\n", "version", rc == CL_SUCCESS ? version : clmlp_cl_error_name(rc));
    rc = clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    if (rc == CL_SUCCESS)
        printf("    %-20s %u\n", "compute units", cu);
    else
        printf("    %-20s ? (%s)\n", "compute units", clmlp_cl_error_name(rc));
    rc = clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    if (rc == CL_SUCCESS)
        printf("    %-20s %zu\n", "max work-group size", wg);
    else
        printf("    %-20s ? (%s)\n", "max work-group size", clmlp_cl_error_name(rc));
    print_ulong("local memory", d, CL_DEVICE_LOCAL_MEM_SIZE);
    print_ulong("global memory", d, CL_DEVICE_GLOBAL_MEM_SIZE);
    print_ulong("max allocation", d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    print_fp64(d);
}

int cmd_devices(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(devices_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage("devices", "unexpected argument '%s'", argv[1]);
    clmlp_cl_device devs[MAX_DEVICES];
    size_t count = 0;
    char err[1024];
    if (clmlp_cl_list_devices(devs, MAX_DEVICES, &count, err, sizeof err) != CLMLP_OK) {
        cli_err("devices", "%s", err);
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < count; i++)
        print_device(&devs[i], i == 0 || devs[i].platform != devs[i - 1].platform);
    printf("cpu: the CPU reference backend (--device cpu)\n");
    return CLI_EXIT_OK;
}
