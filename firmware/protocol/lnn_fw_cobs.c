/* lnn_fw_cobs.c: COBS encoder and decoder (see lnn_fw_cobs.h). */
#include "lnn_fw_cobs.h"

size_t lnn_fw_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t code_at = 0; /* where the current block's code byte goes */
    size_t out = 1;
    uint8_t code = 1;
    size_t i;
    for (i = 0; i < len; i++) {
        if (src[i] == 0u) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            dst[out++] = src[i];
            code++;
            if (code == 0xFFu) {
                dst[code_at] = code;
                if (i + 1u == len) {
                    return out; /* a full block at the very end needs no empty block after it */
                }
                code_at = out++;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    return out;
}

int lnn_fw_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t in = 0;
    size_t out = 0;
    while (in < len) {
        uint8_t code = src[in++];
        uint8_t k;
        if (code == 0u) {
            return -1;
        }
        for (k = 1; k < code; k++) {
            uint8_t byte;
            if (in >= len || out >= cap) {
                return -1;
            }
            byte = src[in++];
            if (byte == 0u) {
                return -1;
            }
            dst[out++] = byte;
        }
        /* A block shorter than 254 data bytes stands for its data and one zero, except at the end. */
        if (code != 0xFFu && in < len) {
            if (out >= cap) {
                return -1;
            }
            dst[out++] = 0u;
        }
    }
    *out_len = out;
    return 0;
}
