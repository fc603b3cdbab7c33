/* lnn_fw_cobs.h: Consistent Overhead Byte Stuffing, the framing that keeps 0x00 free for delimiters.
 *
 * Portable C99, no hardware dependence (also compiled on the host for fuzzing).
 */
#ifndef LNN_FW_COBS_H
#define LNN_FW_COBS_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to encode len bytes (without the delimiter). */
#define LNN_FW_COBS_MAX_ENCODED(len) ((len) + (len) / 254u + 1u)

/* Encode src[0..len) into dst (which must hold LNN_FW_COBS_MAX_ENCODED(len) bytes); no delimiter is
 * written. Returns the encoded length. src and dst must not overlap. */
size_t lnn_fw_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst);

/* Decode src[0..len) into dst (at most cap bytes). dst may equal src (decoding in place never writes
 * ahead of what it reads). Returns 0 and sets *out_len, or -1 if src holds a 0x00 byte, a block runs
 * past the end, or the result would exceed cap. */
int lnn_fw_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

#endif /* LNN_FW_COBS_H */
