/* lnn_fw_main.c: the application: bring up the board, announce BOOT, then serve frames forever.
 *
 * Order matters: set-up writes (clocks, pins), UART, then the cycle counter, which arms SysTick right
 * after the UART (QEMU 7.2 only notices host->guest bytes promptly once a timer runs). BOOT goes out
 * before the first byte is read, so a host that sees it knows the device (re)started.
 */
#include "lnn_fw_hal.h"
#include "lnn_fw_model.h"
#include "lnn_fw_server.h"

static lnn_fw_server_t server;

int main(void)
{
    lnn_fw_board_setup();
    lnn_fw_uart_init();
    lnn_fw_cycles_init();
    lnn_fw_model_init();
    lnn_fw_server_init(&server);
    lnn_fw_server_boot(&server);
    for (;;) {
        uint8_t byte;
        if (lnn_fw_uart_read(&byte) != 0) {
            lnn_fw_server_feed(&server, byte);
        }
    }
}
