/* bench_main.c - a stand-alone driver for `clmlp bench` (host/cli/cmd_bench.c), for use until
 * the clmlp command dispatches to it. Build by hand against the library:
 *   cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120 -Ihost -Ihost/cli \
 *      tools/bench_main.c host/cli/cmd_bench.c host/cli/cli_common.c build-perf/libclmlp.a \
 *      -lOpenCL -lz -lm -lpthread -o build-perf/clmlp-bench
 * Usage: clmlp-bench [bench options]   (see --help) */
int cmd_bench(int argc, char **argv);

int main(int argc, char **argv)
{
    argv[0] = "bench";
    return cmd_bench(argc, argv);
}
