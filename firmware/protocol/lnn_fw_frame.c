/* lnn_fw_frame.c: reception, decoding and encoding of frames (see lnn_fw_frame.h). */
#include "lnn_fw_frame.h"

#include "lnn_fw_cobs.h"
#include "lnn_fw_crc16.h"

void lnn_fw_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

void lnn_fw_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

uint16_t lnn_fw_get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

uint32_t lnn_fw_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void lnn_fw_rx_init(lnn_fw_rx_t *rx)
{
    rx->len = 0;
    rx->frame_len = 0;
    rx->discarding = 0;
}

lnn_fw_rx_event_t lnn_fw_rx_push(lnn_fw_rx_t *rx, uint8_t byte)
{
    if (byte == 0u) {
        if (rx->discarding != 0u) {
            rx->discarding = 0;
            rx->len = 0;
            return LNN_FW_RX_MORE; /* its ERROR 4 went out when the limit was hit */
        }
        if (rx->len == 0u) {
            return LNN_FW_RX_MORE;
        }
        rx->frame_len = rx->len;
        rx->len = 0;
        return LNN_FW_RX_FRAME;
    }
    if (rx->discarding != 0u) {
        return LNN_FW_RX_MORE;
    }
    if (rx->len >= sizeof rx->buf) {
        rx->discarding = 1;
        rx->len = 0;
        return LNN_FW_RX_OVERSIZE;
    }
    rx->buf[rx->len++] = byte;
    return LNN_FW_RX_MORE;
}

uint8_t lnn_fw_frame_decode(lnn_fw_rx_t *rx, lnn_fw_frame_t *frame)
{
    size_t size = 0;
    uint16_t len;
    uint16_t crc;
    if (lnn_fw_cobs_decode(rx->buf, rx->frame_len, rx->buf, sizeof rx->buf, &size) != 0) {
        return LNN_FW_ERR_MALFORMED;
    }
    if (size < LNN_FW_HEADER_SIZE + LNN_FW_CRC_SIZE) {
        return LNN_FW_ERR_MALFORMED;
    }
    len = lnn_fw_get_u16(rx->buf + 2);
    if (len > LNN_FW_MAX_PAYLOAD) {
        return LNN_FW_ERR_OVERSIZE;
    }
    if (size != (size_t)len + LNN_FW_HEADER_SIZE + LNN_FW_CRC_SIZE) {
        return LNN_FW_ERR_MALFORMED;
    }
    crc = lnn_fw_get_u16(rx->buf + LNN_FW_HEADER_SIZE + len);
    if (crc != lnn_fw_crc16(rx->buf, (size_t)len + LNN_FW_HEADER_SIZE)) {
        return LNN_FW_ERR_CRC;
    }
    frame->cmd = rx->buf[0];
    frame->seq = rx->buf[1];
    frame->len = len;
    frame->payload = rx->buf + LNN_FW_HEADER_SIZE;
    return 0;
}

size_t lnn_fw_frame_encode(uint8_t cmd, uint8_t seq, uint8_t *raw, uint16_t payload_len, uint8_t *out)
{
    size_t body = (size_t)payload_len + LNN_FW_HEADER_SIZE;
    size_t n;
    raw[0] = cmd;
    raw[1] = seq;
    lnn_fw_put_u16(raw + 2, payload_len);
    lnn_fw_put_u16(raw + body, lnn_fw_crc16(raw, body));
    n = lnn_fw_cobs_encode(raw, body + LNN_FW_CRC_SIZE, out);
    out[n++] = 0u;
    return n;
}
