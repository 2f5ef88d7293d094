/* A libmodbus Modbus TCP server for the throughput benchmark: 125 holding registers at 0, one client at a time.
   usage: libmodbus_server PORT */
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 1502;
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    modbus_mapping_t *mb = modbus_mapping_new(0, 0, 125, 0);
    for (int i = 0; i < 125; i++) mb->tab_registers[i] = (uint16_t)i;
    int s = modbus_tcp_listen(ctx, 1);
    if (s < 0) { perror("listen"); return 1; }
    printf("listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        if (modbus_tcp_accept(ctx, &s) < 0) break;
        for (;;) {
            uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
            int rc = modbus_receive(ctx, q);
            if (rc > 0) modbus_reply(ctx, q, rc, mb);
            else if (rc == -1) break;
        }
        modbus_close(ctx);
    }
    modbus_mapping_free(mb);
    modbus_free(ctx);
    return 0;
}
