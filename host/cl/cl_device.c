/* cl_device.c - finding OpenCL devices and choosing one by index or by name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_util.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES_PER_PLATFORM 32

static void lower(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static clmlp_status list_platform(cl_platform_id p, clmlp_cl_device *out, size_t cap,
                                  size_t *count, char *err, size_t errlen)
{
    cl_device_id ids[MAX_DEVICES_PER_PLATFORM];
    cl_uint n = 0;
    char pname[256] = "", vendor[256] = "";
    CLMLP_CL_TRY(err, errlen, clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof pname, pname, NULL));
    CLMLP_CL_TRY(err, errlen, clGetPlatformInfo(p, CL_PLATFORM_VENDOR, sizeof vendor, vendor, NULL));
    cl_int rc = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, MAX_DEVICES_PER_PLATFORM, ids, &n);
    if (rc == CL_DEVICE_NOT_FOUND)
        return CLMLP_OK; /* a platform without devices is not an error */
    CLMLP_CL_TRY_RC(err, errlen, rc, "clGetDeviceIDs");
    for (cl_uint i = 0; i < n && i < MAX_DEVICES_PER_PLATFORM && *count < cap; i++) {
        clmlp_cl_device *d = &out[*count];
        memset(d, 0, sizeof *d);
        d->platform = p;
        d->device = ids[i];
        d->index = (int)*count;
        snprintf(d->platform_name, sizeof d->platform_name, "%s", pname);
        snprintf(d->platform_vendor, sizeof d->platform_vendor, "%s", vendor);
        CLMLP_CL_TRY(err, errlen, clGetDeviceInfo(ids[i], CL_DEVICE_NAME, sizeof d->name, d->name, NULL));
        CLMLP_CL_TRY(err, errlen, clGetDeviceInfo(ids[i], CL_DEVICE_TYPE, sizeof d->type, &d->type, NULL));
        (*count)++;
    }
    return CLMLP_OK;
}

clmlp_status clmlp_cl_list_devices(clmlp_cl_device *out, size_t cap, size_t *count, char *err,
                                   size_t errlen)
{
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    *count = 0;
    cl_int rc = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    if (rc == CL_SUCCESS && np == 0)
        rc = -1001; /* some loaders report success with zero platforms */
    CLMLP_CL_TRY_RC(err, errlen, rc, "clGetPlatformIDs");
    for (cl_uint i = 0; i < np && i < MAX_PLATFORMS; i++) {
        clmlp_status st = list_platform(plats[i], out, cap, count, err, errlen);
        if (st != CLMLP_OK)
            return st;
    }
    if (*count == 0)
        return clmlp_cl_fail(err, errlen, CL_DEVICE_NOT_FOUND, "clGetDeviceIDs", __FILE__,
                             __LINE__);
    return CLMLP_OK;
}

/* Index of the device that matches spec, or -1. */
static int match(const clmlp_cl_device *devs, size_t n, const char *spec)
{
    char *end;
    long idx = strtol(spec, &end, 10);
    if (*spec && *end == '\0')
        return idx >= 0 && (size_t)idx < n ? (int)idx : -1;
    char want[256], have[800];
    lower(want, spec, sizeof want);
    for (size_t i = 0; i < n; i++) {
        char both[800];
        snprintf(both, sizeof both, "%s %s %s", devs[i].platform_vendor, devs[i].platform_name,
                 devs[i].name);
        lower(have, both, sizeof have);
        if (strstr(have, want))
            return (int)i;
    }
    return -1;
}

clmlp_status clmlp_cl_pick_device(const char *spec, clmlp_cl_device *out, char *err,
                                  size_t errlen)
{
    clmlp_cl_device devs[MAX_PLATFORMS * 4];
    size_t n = 0;
    clmlp_status st = clmlp_cl_list_devices(devs, sizeof devs / sizeof *devs, &n, err, errlen);
    if (st != CLMLP_OK)
        return st;
    if (!spec || !*spec)
        spec = getenv("CLMLP_DEVICE");
    int pick = -1;
    if (spec && *spec) {
        pick = match(devs, n, spec);
        if (pick < 0) {
            int used = snprintf(err, errlen, "no OpenCL device matches '%s'; the devices are:", spec);
            for (size_t i = 0; i < n && used > 0 && (size_t)used < errlen; i++)
                used += snprintf(err + used, errlen - (size_t)used, "%s [%zu] %s / %s",
                                 i ? ";" : "", i, devs[i].platform_name, devs[i].name);
            return CLMLP_ERR_ARG;
        }
    } else {
        for (size_t i = 0; i < n && pick < 0; i++)
            if (devs[i].type & CL_DEVICE_TYPE_GPU)
                pick = (int)i;
        if (pick < 0)
            pick = 0;
    }
    *out = devs[pick];
    return CLMLP_OK;
}
