/* lnn_fw_protocol.h: constants of the host-in-the-loop serial protocol, version 2.
 *
 * The single source of the numbers in docs/serial-protocol.md for the firmware side; the host side
 * (lnn_edge/target/protocol.py) carries the same values. Portable: no hardware, no libc beyond <stdint.h>; the
 * one per-image value comes from the generated lnn_fw_config.h.
 */
#ifndef LNN_FW_PROTOCOL_H
#define LNN_FW_PROTOCOL_H

#include <stdint.h>

#define LNN_FW_PROTOCOL_VERSION 2u

/* Frame layout (decoded): cmd u8, seq u8, len u16 LE, payload[len], CRC-16 u16 LE. */
#define LNN_FW_HEADER_SIZE 4u
#define LNN_FW_CRC_SIZE 2u
/* The largest payload an image may be built for: its encoded frame (below) still fits the u16 length field
 * and the receiver's u16 counters. No model within lnn-edge's limits (1024 inputs, 1024 neurons) comes near. */
#define LNN_FW_PAYLOAD_LIMIT 64512u
/* This image's largest payload, reported in HELLO and the size of the frame buffers. lnn-edge build writes it
 * into lnn_fw_config.h: the largest payload the model's commands need, never below 1024 (version 1's fixed
 * size), so the buffers of a small model do not grow. Every source that sees the buffers includes this header,
 * so they all agree. 1024 when a hand-written config header leaves it out. */
#include "lnn_fw_config.h"
#ifndef LNN_FW_MAX_PAYLOAD
#define LNN_FW_MAX_PAYLOAD 1024u
#endif
#if LNN_FW_MAX_PAYLOAD > LNN_FW_PAYLOAD_LIMIT
#error "LNN_FW_MAX_PAYLOAD is above LNN_FW_PAYLOAD_LIMIT"
#endif
#define LNN_FW_MAX_DECODED (LNN_FW_HEADER_SIZE + LNN_FW_MAX_PAYLOAD + LNN_FW_CRC_SIZE)
/* An encoded frame is at most this long including its 0x00 delimiter: COBS adds one byte per started
 * 254-byte block (LNN_FW_COBS_MAX_ENCODED in lnn_fw_cobs.h), and the delimiter adds one. */
#define LNN_FW_MAX_ENCODED (LNN_FW_MAX_DECODED + LNN_FW_MAX_DECODED / 254u + 2u)

/* Commands (host to device); a response carries cmd | LNN_FW_RESPONSE. */
#define LNN_FW_CMD_HELLO 0x01u
#define LNN_FW_CMD_RESET 0x02u
#define LNN_FW_CMD_STEP 0x03u
#define LNN_FW_CMD_READ_STATE 0x04u
#define LNN_FW_CMD_SET_STATE 0x05u
#define LNN_FW_CMD_BENCH 0x06u
#define LNN_FW_CMD_BOOT 0x7Eu  /* device to host only, unsolicited, seq 0 */
#define LNN_FW_CMD_ERROR 0x7Fu /* response to a bad request */
#define LNN_FW_RESPONSE 0x80u

/* STEP flags. */
#define LNN_FW_STEP_WANT_STATE 0x01u

/* ERROR codes. */
#define LNN_FW_ERR_CRC 1u
#define LNN_FW_ERR_LENGTH 2u
#define LNN_FW_ERR_UNKNOWN 3u
#define LNN_FW_ERR_OVERSIZE 4u
#define LNN_FW_ERR_MALFORMED 5u
#define LNN_FW_ERR_STEP 6u

/* HELLO: precision codes and cycle-counter kinds. */
#define LNN_FW_PRECISION_FLOAT32 0u
#define LNN_FW_PRECISION_FIXED16 1u
#define LNN_FW_PRECISION_FIXED32 2u
#define LNN_FW_CYCLES_NONE 0u
#define LNN_FW_CYCLES_KIND_DWT 1u
#define LNN_FW_CYCLES_KIND_SYSTICK 2u
#define LNN_FW_CYCLES_KIND_MCYCLE 3u /* RISC-V mcycle CSR */

#endif /* LNN_FW_PROTOCOL_H */
