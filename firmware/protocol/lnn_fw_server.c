/* lnn_fw_server.c: command dispatch, errors and the retry cache (see lnn_fw_server.h). */
#include "lnn_fw_server.h"

#include "lnn_fw_cobs.h"
#include "lnn_fw_model.h"
#include "lnn_fw_port.h"

/* Where a response payload starts in the raw response buffer. */
#define PAYLOAD(server) ((server)->response + LNN_FW_HEADER_SIZE)

static uint8_t text_length(const char *text)
{
    uint8_t n = 0;
    while (text[n] != '\0' && n < 255u) {
        n++;
    }
    return n;
}

/* HELLO/BOOT payload (at most 46 + 2 x 256 + 2 bytes, within the 1024-byte floor); returns its length. */
static uint16_t put_hello(uint8_t *p)
{
    const lnn_fw_model_info_t *model = lnn_fw_model_info();
    const lnn_fw_board_info_t *board = lnn_fw_port_board();
    uint16_t n = 0;
    uint8_t i;
    uint8_t length;
    p[n++] = (uint8_t)LNN_FW_PROTOCOL_VERSION;
    p[n++] = model->precision;
    p[n++] = model->value_size;
    p[n++] = board->cycles_kind;
    lnn_fw_put_u16(p + n, model->inputs);
    n = (uint16_t)(n + 2u);
    lnn_fw_put_u16(p + n, model->outputs);
    n = (uint16_t)(n + 2u);
    lnn_fw_put_u16(p + n, model->state);
    n = (uint16_t)(n + 2u);
    lnn_fw_put_u32(p + n, board->clock_hz);
    n = (uint16_t)(n + 4u);
    for (i = 0; i < 32u; i++) {
        p[n++] = model->hash[i];
    }
    length = text_length(board->board);
    p[n++] = length;
    for (i = 0; i < length; i++) {
        p[n++] = (uint8_t)board->board[i];
    }
    length = text_length(board->core);
    p[n++] = length;
    for (i = 0; i < length; i++) {
        p[n++] = (uint8_t)board->core[i];
    }
    /* Version 2: the largest payload this image accepts and sends (its buffers' size). */
    lnn_fw_put_u16(p + n, (uint16_t)LNN_FW_MAX_PAYLOAD);
    n = (uint16_t)(n + 2u);
    return n;
}

/* An ERROR frame for a request that could not be decoded: not cached (a retry must execute). */
static void send_error_uncached(uint8_t seq, uint8_t code, uint8_t cmd)
{
    uint8_t raw[LNN_FW_HEADER_SIZE + 2u + LNN_FW_CRC_SIZE];
    uint8_t out[LNN_FW_COBS_MAX_ENCODED(sizeof raw) + 1u];
    size_t n;
    raw[LNN_FW_HEADER_SIZE] = code;
    raw[LNN_FW_HEADER_SIZE + 1u] = cmd;
    n = lnn_fw_frame_encode(LNN_FW_CMD_ERROR, seq, raw, 2u, out);
    lnn_fw_port_write(out, n);
}

/* Encode the response built in server->response, remember it for retries and send it. */
static void send_cached(lnn_fw_server_t *server, uint8_t cmd, uint8_t seq, uint16_t payload_len,
                        uint8_t request_cmd)
{
    size_t n = lnn_fw_frame_encode(cmd, seq, server->response, payload_len, server->cache);
    server->cache_len = (uint16_t)n;
    server->cache_seq = seq;
    server->cache_cmd = request_cmd;
    server->cache_valid = 1;
    lnn_fw_port_write(server->cache, n);
}

/* Execute one valid request: returns the response payload length, or sets *error. */
static uint16_t execute(lnn_fw_server_t *server, const lnn_fw_frame_t *frame, uint8_t *error)
{
    const lnn_fw_model_info_t *model = lnn_fw_model_info();
    uint8_t *out = PAYLOAD(server);
    uint16_t vs = model->value_size;
    uint16_t state_bytes = (uint16_t)(vs * model->state);
    uint16_t input_bytes = (uint16_t)(vs * model->inputs);
    uint16_t output_bytes = (uint16_t)(vs * model->outputs);
    uint32_t cycles = 0;
    switch (frame->cmd) {
    case LNN_FW_CMD_HELLO:
        if (frame->len != 0u) {
            break;
        }
        return put_hello(out);
    case LNN_FW_CMD_RESET:
        if (frame->len != 0u) {
            break;
        }
        lnn_fw_model_reset();
        return 0;
    case LNN_FW_CMD_STEP: {
        uint8_t flags;
        uint16_t n;
        if (frame->len != 1u + vs + input_bytes) {
            break;
        }
        flags = frame->payload[0];
        if (lnn_fw_model_step(frame->payload + 1, frame->payload + 1 + vs, out + 4, &cycles) != 0) {
            *error = LNN_FW_ERR_STEP;
            return 0;
        }
        lnn_fw_put_u32(out, cycles);
        n = (uint16_t)(4u + output_bytes);
        if ((flags & LNN_FW_STEP_WANT_STATE) != 0u) {
            lnn_fw_model_get_state(out + n);
            n = (uint16_t)(n + state_bytes);
        }
        return n;
    }
    case LNN_FW_CMD_READ_STATE:
        if (frame->len != 0u) {
            break;
        }
        lnn_fw_model_get_state(out);
        return state_bytes;
    case LNN_FW_CMD_SET_STATE:
        if (frame->len != state_bytes) {
            break;
        }
        if (lnn_fw_model_set_state(frame->payload) != 0) {
            *error = LNN_FW_ERR_STEP;
        }
        return 0;
    case LNN_FW_CMD_BENCH: {
        uint32_t count;
        uint32_t k;
        uint32_t min = 0xFFFFFFFFu;
        uint32_t max = 0;
        uint32_t total_lo = 0;
        uint32_t total_hi = 0;
        int status = 0;
        if (frame->len != 4u + vs + input_bytes) {
            break;
        }
        count = lnn_fw_get_u32(frame->payload);
        lnn_fw_model_save_state();
        for (k = 0; k < count && status == 0; k++) {
            /* The outputs land in the response buffer past the BENCH payload; they are not sent. */
            status = lnn_fw_model_step(frame->payload + 4, frame->payload + 4 + vs, out + 20, &cycles);
            total_lo += cycles;
            if (total_lo < cycles) {
                total_hi++;
            }
            min = cycles < min ? cycles : min;
            max = cycles > max ? cycles : max;
        }
        lnn_fw_model_restore_state();
        if (status != 0) {
            *error = LNN_FW_ERR_STEP;
            return 0;
        }
        lnn_fw_put_u32(out, count);
        lnn_fw_put_u32(out + 4, total_lo);
        lnn_fw_put_u32(out + 8, total_hi);
        lnn_fw_put_u32(out + 12, count == 0u ? 0u : min);
        lnn_fw_put_u32(out + 16, max);
        return 20;
    }
    default:
        *error = LNN_FW_ERR_UNKNOWN;
        return 0;
    }
    *error = LNN_FW_ERR_LENGTH;
    return 0;
}

static void handle(lnn_fw_server_t *server, const lnn_fw_frame_t *frame)
{
    uint8_t error = 0;
    uint16_t n;
    if (frame->cmd == LNN_FW_CMD_HELLO) {
        server->cache_valid = 0; /* a new session: nothing before it may answer a retry */
    } else if (server->cache_valid != 0u && frame->seq == server->cache_seq &&
               frame->cmd == server->cache_cmd) {
        lnn_fw_port_write(server->cache, server->cache_len);
        return;
    }
    n = execute(server, frame, &error);
    if (error != 0u) {
        PAYLOAD(server)[0] = error;
        PAYLOAD(server)[1] = frame->cmd;
        send_cached(server, LNN_FW_CMD_ERROR, frame->seq, 2u, frame->cmd);
    } else {
        send_cached(server, (uint8_t)(frame->cmd | LNN_FW_RESPONSE), frame->seq, n, frame->cmd);
    }
    if (frame->cmd == LNN_FW_CMD_HELLO) {
        server->cache_valid = 0;
    }
}

void lnn_fw_server_init(lnn_fw_server_t *server)
{
    lnn_fw_rx_init(&server->rx);
    server->cache_len = 0;
    server->cache_seq = 0;
    server->cache_cmd = 0;
    server->cache_valid = 0;
}

void lnn_fw_server_boot(lnn_fw_server_t *server)
{
    uint16_t n = put_hello(PAYLOAD(server));
    size_t sent;
    server->cache_valid = 0; /* the cache buffer is reused to send BOOT */
    sent = lnn_fw_frame_encode(LNN_FW_CMD_BOOT, 0u, server->response, n, server->cache);
    lnn_fw_port_write(server->cache, sent);
}

void lnn_fw_server_feed(lnn_fw_server_t *server, uint8_t byte)
{
    lnn_fw_frame_t frame;
    uint8_t error;
    switch (lnn_fw_rx_push(&server->rx, byte)) {
    case LNN_FW_RX_FRAME:
        error = lnn_fw_frame_decode(&server->rx, &frame);
        if (error != 0u) {
            /* The header is not trustworthy: seq and cmd are reported as 0. */
            send_error_uncached(0u, error, 0u);
        } else {
            handle(server, &frame);
        }
        break;
    case LNN_FW_RX_OVERSIZE:
        send_error_uncached(0u, LNN_FW_ERR_OVERSIZE, 0u);
        break;
    case LNN_FW_RX_MORE:
    default:
        break;
    }
}
