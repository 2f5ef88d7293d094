/* The libmodbus reference client for the throughput benchmark: N sequential FC3 reads, prints requests per second.
   usage: libmodbus_client HOST PORT UNIT REGISTERS REQUESTS */
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: %s HOST PORT UNIT REGISTERS REQUESTS\n", argv[0]); return 2; }
    int port = atoi(argv[2]), unit = atoi(argv[3]), regs = atoi(argv[4]), n = atoi(argv[5]);
    modbus_t *ctx = modbus_new_tcp(argv[1], port);
    modbus_set_slave(ctx, unit);
    if (modbus_connect(ctx) < 0) { fprintf(stderr, "connect failed\n"); return 1; }
    uint16_t buf[125];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        if (modbus_read_registers(ctx, 0, regs, buf) != regs) { fprintf(stderr, "read %d failed\n", i); return 1; }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("libmodbus client: %d requests of %d registers in %.3f s = %.0f requests/s\n", n, regs, s, n / s);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
