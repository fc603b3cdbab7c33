/* lnn_fw_crc16.h: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).
 *
 * Check value: the CRC of the ASCII bytes "123456789" is 0x29B1. Portable C99.
 */
#ifndef LNN_FW_CRC16_H
#define LNN_FW_CRC16_H

#include <stddef.h>
#include <stdint.h>

uint16_t lnn_fw_crc16(const uint8_t *data, size_t len);

#endif /* LNN_FW_CRC16_H */
