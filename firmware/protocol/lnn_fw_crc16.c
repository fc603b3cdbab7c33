/* lnn_fw_crc16.c: bitwise CRC-16/CCITT-FALSE. A table would be faster but costs 512 B of flash; frames are
 * at most about 1 KB, so the bitwise loop is a few microseconds per frame even on an M0. */
#include "lnn_fw_crc16.h"

uint16_t lnn_fw_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    int bit;
    for (i = 0; i < len; i++) {
        crc = (uint16_t)(crc ^ (uint16_t)((uint16_t)data[i] << 8));
        for (bit = 0; bit < 8; bit++) {
            if ((crc & 0x8000u) != 0u) {
                crc = (uint16_t)((uint16_t)(crc << 1) ^ 0x1021u);
            } else {
                crc = (uint16_t)(crc << 1);
            }
        }
    }
    return crc;
}
