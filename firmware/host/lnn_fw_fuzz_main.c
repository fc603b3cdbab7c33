/* lnn_fw_fuzz_main.c: runs the firmware's protocol server (firmware/protocol/ and app/lnn_fw_model.c, the
 * very files built into the images) on the host, for fuzzing under ASan/UBSan.
 *
 * Usage: lnn_fw_fuzz IN OUT
 * IN is a sequence of records [u32 length][bytes]; each record is fed to the server byte by byte, followed
 * by one 0x00 delimiter. OUT gets, per record, [u32 number of writes] then each write as [u32 length][bytes].
 * The server writes each response with exactly one lnn_fw_port_write call, so the test can check that every
 * frame received exactly one well-formed response. A first pseudo-record (index 0 in OUT) holds the BOOT
 * frame sent at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lnn_fw_config.h"
#include "lnn_fw_model.h"
#include "lnn_fw_port.h"
#include "lnn_fw_server.h"

#define MAX_WRITES 64u
#define MAX_RECORD (1u << 20)

static uint8_t writes[MAX_WRITES][LNN_FW_MAX_ENCODED + 16u];
static size_t write_lengths[MAX_WRITES];
static unsigned write_count;
static unsigned overflowed;
static uint32_t fake_cycles;

void lnn_fw_port_write(const uint8_t *data, size_t len)
{
    if (write_count >= MAX_WRITES || len > sizeof writes[0]) {
        overflowed = 1;
        return;
    }
    memcpy(writes[write_count], data, len);
    write_lengths[write_count] = len;
    write_count++;
}

uint32_t lnn_fw_port_cycles(void)
{
    fake_cycles += 7u;
    return fake_cycles;
}

const lnn_fw_board_info_t *lnn_fw_port_board(void)
{
    static const lnn_fw_board_info_t info = {"host-fuzz", "x86_64", 1000000u, LNN_FW_CYCLES_NONE};
    return &info;
}

static int put_u32(FILE *out, uint32_t value)
{
    uint8_t bytes[4];
    bytes[0] = (uint8_t)(value & 0xFFu);
    bytes[1] = (uint8_t)((value >> 8) & 0xFFu);
    bytes[2] = (uint8_t)((value >> 16) & 0xFFu);
    bytes[3] = (uint8_t)(value >> 24);
    return fwrite(bytes, 1, 4, out) == 4 ? 0 : -1;
}

static int flush_writes(FILE *out)
{
    unsigned i;
    if (overflowed != 0u || put_u32(out, (uint32_t)write_count) != 0) {
        return -1;
    }
    for (i = 0; i < write_count; i++) {
        if (put_u32(out, (uint32_t)write_lengths[i]) != 0 ||
            fwrite(writes[i], 1, write_lengths[i], out) != write_lengths[i]) {
            return -1;
        }
    }
    write_count = 0;
    return 0;
}

int main(int argc, char **argv)
{
    static lnn_fw_server_t server;
    static uint8_t record[MAX_RECORD];
    FILE *in;
    FILE *out;
    uint8_t header[4];
    if (argc != 3 || (in = fopen(argv[1], "rb")) == NULL || (out = fopen(argv[2], "wb")) == NULL) {
        fprintf(stderr, "usage: lnn_fw_fuzz IN OUT\n");
        return 2;
    }
    lnn_fw_model_init();
    lnn_fw_server_init(&server);
    lnn_fw_server_boot(&server);
    if (flush_writes(out) != 0) {
        return 3;
    }
    while (fread(header, 1, 4, in) == 4) {
        uint32_t length = (uint32_t)header[0] | ((uint32_t)header[1] << 8) | ((uint32_t)header[2] << 16) |
                          ((uint32_t)header[3] << 24);
        uint32_t i;
        if (length > MAX_RECORD || fread(record, 1, length, in) != length) {
            fprintf(stderr, "truncated input\n");
            return 4;
        }
        for (i = 0; i < length; i++) {
            lnn_fw_server_feed(&server, record[i]);
        }
        lnn_fw_server_feed(&server, 0u);
        if (flush_writes(out) != 0) {
            fprintf(stderr, "too many or too long writes for one record\n");
            return 5;
        }
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 6;
}
