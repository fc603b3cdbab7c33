/* lnn_fw_frame.h: frames on the wire: byte-wise reception with resynchronisation, decoding with every
 * check of docs/serial-protocol.md, and encoding of responses.
 *
 * Portable C99 (also compiled on the host under ASan/UBSan for fuzzing). No dynamic memory.
 */
#ifndef LNN_FW_FRAME_H
#define LNN_FW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "lnn_fw_protocol.h"

/* Receiver: collects encoded bytes up to the next 0x00 delimiter. */
typedef struct {
    uint8_t buf[LNN_FW_MAX_ENCODED - 1u]; /* the encoded frame without its delimiter */
    uint16_t len;                         /* bytes in buf */
    uint16_t frame_len;                   /* length of the complete frame after LNN_FW_RX_FRAME */
    uint8_t discarding;                   /* an oversized frame was reported: drop bytes up to 0x00 */
} lnn_fw_rx_t;

typedef enum {
    LNN_FW_RX_MORE = 0,  /* nothing to do yet */
    LNN_FW_RX_FRAME = 1, /* buf[0..frame_len) holds a complete encoded frame */
    LNN_FW_RX_OVERSIZE = 2 /* the size limit was hit without a delimiter (report it once) */
} lnn_fw_rx_event_t;

/* A decoded frame; payload points into the receiver's buffer. */
typedef struct {
    uint8_t cmd;
    uint8_t seq;
    uint16_t len;
    const uint8_t *payload;
} lnn_fw_frame_t;

void lnn_fw_rx_init(lnn_fw_rx_t *rx);

/* Feed one received byte. An empty frame (two delimiters in a row) is ignored: hosts may send a lone
 * 0x00 to resynchronise. After LNN_FW_RX_OVERSIZE every byte up to the next 0x00 is dropped. */
lnn_fw_rx_event_t lnn_fw_rx_push(lnn_fw_rx_t *rx, uint8_t byte);

/* Decode the frame the receiver holds (in place). Returns 0 and fills *frame, or an error code:
 * LNN_FW_ERR_MALFORMED (COBS, shorter than header + CRC, len not matching the size),
 * LNN_FW_ERR_OVERSIZE (len above LNN_FW_MAX_PAYLOAD) or LNN_FW_ERR_CRC. */
uint8_t lnn_fw_frame_decode(lnn_fw_rx_t *rx, lnn_fw_frame_t *frame);

/* Finish a frame whose payload (payload_len bytes) already sits at raw + LNN_FW_HEADER_SIZE: write the
 * header and CRC into raw (LNN_FW_MAX_DECODED bytes), COBS-encode it into out (LNN_FW_MAX_ENCODED bytes)
 * and append the delimiter. Returns the number of bytes to send. */
size_t lnn_fw_frame_encode(uint8_t cmd, uint8_t seq, uint8_t *raw, uint16_t payload_len, uint8_t *out);

/* Little-endian field access (frames are little-endian on every host and core). */
void lnn_fw_put_u16(uint8_t *p, uint16_t v);
void lnn_fw_put_u32(uint8_t *p, uint32_t v);
uint16_t lnn_fw_get_u16(const uint8_t *p);
uint32_t lnn_fw_get_u32(const uint8_t *p);

#endif /* LNN_FW_FRAME_H */
