/* lnn_fw_server.h: the protocol server: turns received bytes into exactly one response per frame.
 *
 * Every frame that ends with a delimiter gets one response or one ERROR frame; bytes that never form a
 * frame get one ERROR 4 when the size limit is hit. Responses to CRC-valid requests are cached with
 * their seq: a retried request (same seq and cmd as the previous one) gets the cached bytes again and is
 * not executed twice. HELLO always executes and clears the cache, so a new host session that starts
 * with HELLO never receives a stale answer. Portable C99: hardware is reached through lnn_fw_port.h.
 */
#ifndef LNN_FW_SERVER_H
#define LNN_FW_SERVER_H

#include <stdint.h>

#include "lnn_fw_frame.h"

typedef struct {
    lnn_fw_rx_t rx;
    uint8_t response[LNN_FW_MAX_DECODED]; /* raw response being built */
    uint8_t cache[LNN_FW_MAX_ENCODED];    /* the last response as sent, for retries */
    uint16_t cache_len;
    uint8_t cache_seq;
    uint8_t cache_cmd;
    uint8_t cache_valid;
} lnn_fw_server_t;

/* Reset the server's state (parser, cache). The model must be initialised (lnn_fw_model_init). */
void lnn_fw_server_init(lnn_fw_server_t *server);

/* Announce a (re)start: an unsolicited BOOT frame, seq 0, with the HELLO payload. */
void lnn_fw_server_boot(lnn_fw_server_t *server);

/* Process one received byte; responses go out through lnn_fw_port_write. */
void lnn_fw_server_feed(lnn_fw_server_t *server, uint8_t byte);

#endif /* LNN_FW_SERVER_H */
