/* lnn_fw_libfuzzer.c: libFuzzer entry point over the firmware's protocol server (firmware/protocol/ and
 * app/lnn_fw_model.c, the very files built into the images), for coverage-guided fuzzing under ASan/UBSan.
 *
 * An input is the byte stream a host would send. It is fed byte by byte, followed by one 0x00 delimiter, to
 * a server and model initialised afresh for every input (so a run depends on its input alone), after the
 * BOOT frame of a start-up. Besides the sanitizers, the harness checks the rules of docs/serial-protocol.md
 * with an oracle of its own (its COBS decoder and CRC share no code with the server) and aborts on any
 * difference, which libFuzzer reports as a crash:
 * - a run of bytes between delimiters gets exactly one response, written by one call: at its delimiter, or
 *   at its LNN_FW_MAX_ENCODED-th byte (the 1036th by default) for an over-long run; an empty run gets none;
 * - every response is one well-formed frame (COBS, length, CRC, a single trailing 0x00);
 * - a run that does not decode gets ERROR 4, 5 or 1 (by the documented order of checks) with seq 0, cmd 0;
 * - a decodable request with the seq and cmd of the previous one (not HELLO) gets the cached bytes again;
 *   any other gets its seq echoed and its response (cmd | 0x80, the command's payload length; HELLO's
 *   payload equals BOOT's), or ERROR 3 (unknown cmd), 2 (wrong length) or 6 (the model step failed).
 * An input with a valid BENCH whose count is above BENCH_LIMIT is rejected (returns -1) before it runs:
 * the count is the host's to choose, and a large one only costs time (libFuzzer would report a timeout).
 *
 * The custom mutator makes the fuzzer structure-aware: a byte-level mutation of an encoded frame nearly
 * always breaks its CRC, which confines the search to the parser's error paths. Every other mutation
 * therefore decodes one frame, lets libFuzzer mutate its header and payload, and re-encodes it with a fresh
 * CRC (and, three times in four, a len that matches), so mutated requests reach the request handler.
 *
 * Build: tests/support/libfuzzer.py. The firmware sources get -fsanitize=fuzzer,address,undefined; this file
 * gets ASan/UBSan without coverage instrumentation, so only the firmware's edges guide the search (and the
 * oracle's bit loops cost no comparison callbacks). See docs/fuzzing.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lnn_fw_model.h"
#include "lnn_fw_port.h"
#include "lnn_fw_server.h"

#define LIMIT (LNN_FW_MAX_ENCODED - 1u) /* bytes of a frame before its delimiter */
#define FRAME_MIN (LNN_FW_HEADER_SIZE + LNN_FW_CRC_SIZE)
#define BENCH_LIMIT 16u
#define UNKNOWN_LENGTH 0xFFFFFFFFu

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size); /* libFuzzer's own mutation */

/* What the server wrote since the harness last looked: the count, and the first write's bytes. */
static uint8_t written[LNN_FW_MAX_ENCODED];
static size_t written_len;
static unsigned write_count;
static uint32_t fake_cycles;

/* The oracle's view of the session: HELLO's expected payload and the retry cache. */
static uint8_t hello[LNN_FW_MAX_PAYLOAD];
static uint16_t hello_len;
static uint8_t cached[LNN_FW_MAX_ENCODED];
static size_t cached_len;
static uint8_t cached_seq;
static uint8_t cached_cmd;
static int cache_valid;

typedef struct {
    uint8_t cmd;
    uint8_t seq;
    uint16_t len;
    const uint8_t *payload;
} message_t;

static void fail(const char *rule)
{
    fprintf(stderr, "lnn_fw_libfuzzer: protocol rule broken: %s\n", rule);
    abort();
}

void lnn_fw_port_write(const uint8_t *bytes, size_t len)
{
    if (len > sizeof written) {
        fail("a response longer than an encoded frame");
    }
    if (write_count == 0u) {
        memcpy(written, bytes, len);
        written_len = len;
    }
    write_count++;
}

uint32_t lnn_fw_port_cycles(void)
{
    fake_cycles += 7u;
    return fake_cycles;
}

const lnn_fw_board_info_t *lnn_fw_port_board(void)
{
    static const lnn_fw_board_info_t info = {"host-libfuzzer", "x86_64", 1000000u, LNN_FW_CYCLES_NONE};
    return &info;
}

/* --- the oracle: CRC, COBS and frames written from docs/serial-protocol.md, not from firmware/protocol/ --- */

static uint16_t crc16_ccitt_false(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    unsigned bit;
    for (i = 0; i < n; i++) {
        crc = (uint16_t)(crc ^ (uint16_t)(p[i] << 8));
        for (bit = 0; bit < 8u; bit++) {
            unsigned shifted = (unsigned)crc << 1;
            crc = (uint16_t)((crc & 0x8000u) != 0u ? shifted ^ 0x1021u : shifted);
        }
    }
    return crc;
}

/* COBS-decode src[0..n) into dst (cap bytes); returns the decoded size, or -1 if it is not valid COBS. */
static long cobs_decode_ref(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t in = 0;
    size_t out = 0;
    while (in < n) {
        size_t code = src[in++];
        size_t end = in + code - 1u;
        if (code == 0u || end > n || out + (code - 1u) > cap) {
            return -1;
        }
        for (; in < end; in++) {
            if (src[in] == 0u) {
                return -1;
            }
            dst[out++] = src[in];
        }
        if (code != 0xFFu && in < n) {
            if (out >= cap) {
                return -1;
            }
            dst[out++] = 0u;
        }
    }
    return (long)out;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Decode one frame (without its delimiter) into raw; returns 0 and fills *msg, or the ERROR code the
 * documented order of checks gives: COBS (5), size below 6 (5), len above 1024 (4), size (5), CRC (1). */
static uint8_t decode_ref(const uint8_t *src, size_t n, uint8_t raw[LIMIT], message_t *msg)
{
    long size = cobs_decode_ref(src, n, raw, LIMIT);
    uint16_t len;
    if (size < (long)FRAME_MIN) {
        return LNN_FW_ERR_MALFORMED;
    }
    len = get_u16(raw + 2);
    if (len > LNN_FW_MAX_PAYLOAD) {
        return LNN_FW_ERR_OVERSIZE;
    }
    if ((size_t)size != (size_t)len + FRAME_MIN) {
        return LNN_FW_ERR_MALFORMED;
    }
    if (get_u16(raw + LNN_FW_HEADER_SIZE + len) != crc16_ccitt_false(raw, (size_t)len + LNN_FW_HEADER_SIZE)) {
        return LNN_FW_ERR_CRC;
    }
    msg->cmd = raw[0];
    msg->seq = raw[1];
    msg->len = len;
    msg->payload = raw + LNN_FW_HEADER_SIZE;
    return 0;
}

/* The payload length a request must have (UNKNOWN_LENGTH for an unknown command). */
static uint32_t request_length(uint8_t cmd)
{
    const lnn_fw_model_info_t *model = lnn_fw_model_info();
    uint32_t vs = model->value_size;
    switch (cmd) {
    case LNN_FW_CMD_STEP:
        return 1u + vs + vs * model->inputs;
    case LNN_FW_CMD_SET_STATE:
        return vs * model->state;
    case LNN_FW_CMD_BENCH:
        return 4u + vs + vs * model->inputs;
    case LNN_FW_CMD_HELLO:
    case LNN_FW_CMD_RESET:
    case LNN_FW_CMD_READ_STATE:
        return 0u;
    default:
        return UNKNOWN_LENGTH;
    }
}

/* The payload length of the response to a valid request. */
static uint32_t response_length(const message_t *request)
{
    const lnn_fw_model_info_t *model = lnn_fw_model_info();
    uint32_t vs = model->value_size;
    switch (request->cmd) {
    case LNN_FW_CMD_HELLO:
        return hello_len;
    case LNN_FW_CMD_STEP:
        return 4u + vs * model->outputs +
               ((request->payload[0] & LNN_FW_STEP_WANT_STATE) != 0u ? vs * model->state : 0u);
    case LNN_FW_CMD_READ_STATE:
        return vs * model->state;
    case LNN_FW_CMD_BENCH:
        return 20u;
    default:
        return 0u;
    }
}

/* COBS-encode src[0..n) into dst (n + n / 254 + 1 bytes). A full block at the end is followed by an empty
 * one, the form the firmware's encoder does not produce but its decoder must accept. */
static size_t cobs_encode_ref(const uint8_t *src, size_t n, uint8_t *dst)
{
    size_t code_at = 0;
    size_t out = 1;
    uint8_t code = 1;
    size_t i;
    for (i = 0; i < n; i++) {
        if (src[i] != 0u) {
            dst[out++] = src[i];
            code++;
        }
        if (src[i] == 0u || code == 0xFFu) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        }
    }
    dst[code_at] = code;
    return out;
}

/* --- checking the server's answers ------------------------------------------------------------------- */

/* The write must be one frame: COBS without zeros, one trailing 0x00, and a header, length and CRC that
 * decode. Returns the decoded frame in *frame (its payload inside raw). */
static void check_well_formed(const uint8_t *bytes, size_t len, uint8_t raw[LIMIT], message_t *frame)
{
    if (len < 2u || bytes[len - 1u] != 0u || memchr(bytes, 0, len - 1u) != NULL) {
        fail("a response is one COBS frame followed by a single 0x00");
    }
    if (decode_ref(bytes, len - 1u, raw, frame) != 0) {
        fail("a response decodes, with a valid length and CRC");
    }
}

static void expect_error(const message_t *answer, uint8_t seq, uint8_t code, uint8_t cmd)
{
    if (answer->cmd != LNN_FW_CMD_ERROR || answer->seq != seq || answer->len != 2u ||
        answer->payload[0] != code || answer->payload[1] != cmd) {
        fail("an ERROR frame with the documented code, seq and cmd");
    }
}

/* The answer to a request that decoded, given the oracle's cache. Updates the cache as the server must. */
static void check_request_answer(const message_t *request, const message_t *answer)
{
    uint32_t wanted = request_length(request->cmd);
    if (request->cmd != LNN_FW_CMD_HELLO && cache_valid && request->seq == cached_seq &&
        request->cmd == cached_cmd) {
        if (written_len != cached_len || memcmp(written, cached, cached_len) != 0) {
            fail("a retried request gets the cached response, byte for byte");
        }
        return;
    }
    if (wanted == UNKNOWN_LENGTH) {
        expect_error(answer, request->seq, LNN_FW_ERR_UNKNOWN, request->cmd);
    } else if (request->len != wanted) {
        expect_error(answer, request->seq, LNN_FW_ERR_LENGTH, request->cmd);
    } else if (answer->cmd == LNN_FW_CMD_ERROR &&
               (request->cmd == LNN_FW_CMD_STEP || request->cmd == LNN_FW_CMD_SET_STATE ||
                request->cmd == LNN_FW_CMD_BENCH)) {
        expect_error(answer, request->seq, LNN_FW_ERR_STEP, request->cmd);
    } else if (answer->cmd != (uint8_t)(request->cmd | LNN_FW_RESPONSE) || answer->seq != request->seq ||
               answer->len != response_length(request)) {
        fail("a valid request gets its response: cmd | 0x80, its seq, the command's payload length");
    } else if (request->cmd == LNN_FW_CMD_HELLO && memcmp(answer->payload, hello, hello_len) != 0) {
        fail("HELLO answers what BOOT announced");
    } else if (request->cmd == LNN_FW_CMD_BENCH &&
               memcmp(answer->payload, request->payload, 4u) != 0) {
        fail("BENCH answers the count it was asked for");
    }
    cache_valid = request->cmd != LNN_FW_CMD_HELLO;
    memcpy(cached, written, written_len);
    cached_len = written_len;
    cached_seq = request->seq;
    cached_cmd = request->cmd;
}

/* Check the one response to the run of n bytes (n >= 1) that just ended. */
static void check_answer(const uint8_t *run, size_t n)
{
    static uint8_t answer_raw[LIMIT];
    static uint8_t request_raw[LIMIT];
    message_t answer;
    message_t request;
    uint8_t code;
    check_well_formed(written, written_len, answer_raw, &answer);
    if (n >= LNN_FW_MAX_ENCODED) {
        expect_error(&answer, 0u, LNN_FW_ERR_OVERSIZE, 0u);
        return;
    }
    code = decode_ref(run, n, request_raw, &request);
    if (code != 0u) {
        expect_error(&answer, 0u, code, 0u); /* not cached: the cache is left as it was */
        return;
    }
    check_request_answer(&request, &answer);
}

/* --- one input --------------------------------------------------------------------------------------- */

/* A valid BENCH with a count above BENCH_LIMIT anywhere in the input (see the file comment). */
static int has_long_bench(const uint8_t *data, size_t size)
{
    static uint8_t raw[LIMIT];
    size_t start = 0;
    size_t i;
    message_t msg;
    for (i = 0; i <= size; i++) {
        if (i < size && data[i] != 0u) {
            continue;
        }
        if (i - start < LNN_FW_MAX_ENCODED && decode_ref(data + start, i - start, raw, &msg) == 0 &&
            msg.cmd == LNN_FW_CMD_BENCH && msg.len == request_length(LNN_FW_CMD_BENCH) &&
            get_u32(msg.payload) > BENCH_LIMIT) {
            return 1;
        }
        start = i + 1u;
    }
    return 0;
}

/* A fresh model and server, as after a reset; the BOOT frame gives HELLO's expected payload. */
static void start(lnn_fw_server_t *server)
{
    static uint8_t raw[LIMIT];
    message_t boot;
    memset(server, 0, sizeof *server);
    fake_cycles = 0;
    write_count = 0;
    cache_valid = 0;
    lnn_fw_model_init();
    lnn_fw_server_init(server);
    lnn_fw_server_boot(server);
    if (write_count != 1u) {
        fail("start-up sends exactly one BOOT frame");
    }
    check_well_formed(written, written_len, raw, &boot);
    if (boot.cmd != LNN_FW_CMD_BOOT || boot.seq != 0u) {
        fail("BOOT is cmd 0x7E with seq 0");
    }
    memcpy(hello, boot.payload, boot.len);
    hello_len = boot.len;
    write_count = 0;
}

/* Feed one byte (position run_len in its run) and check how many writes it caused. */
static void feed(lnn_fw_server_t *server, const uint8_t *run, size_t run_len, uint8_t byte)
{
    unsigned expected;
    if (byte == 0u) {
        expected = (run_len >= 1u && run_len < LNN_FW_MAX_ENCODED) ? 1u : 0u;
    } else {
        expected = run_len + 1u == LNN_FW_MAX_ENCODED ? 1u : 0u; /* the LNN_FW_MAX_ENCODED-th byte of a run */
    }
    lnn_fw_server_feed(server, byte);
    if (write_count != expected) {
        fail("each run of bytes between delimiters gets exactly one response, in one write");
    }
    if (expected != 0u) {
        check_answer(run, byte == 0u ? run_len : run_len + 1u);
    }
    write_count = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lnn_fw_server_t server;
    size_t start_of_run = 0;
    size_t i;
    if (has_long_bench(data, size)) {
        return -1;
    }
    start(&server);
    for (i = 0; i < size; i++) {
        feed(&server, data + start_of_run, i - start_of_run, data[i]);
        if (data[i] == 0u) {
            start_of_run = i + 1u;
        }
    }
    feed(&server, data + start_of_run, size - start_of_run, 0u);
    return 0;
}

/* --- structure-aware mutation (see the file comment) -------------------------------------------------- */

/* Find the index-th run of non-zero bytes (modulo their number): [*start, *end). Returns 0 if there is none. */
static int pick_run(const uint8_t *data, size_t size, unsigned index, size_t *start, size_t *end)
{
    unsigned runs = 0;
    unsigned target;
    size_t i;
    for (i = 0; i < size; i++) {
        runs += (data[i] != 0u && (i == 0u || data[i - 1u] == 0u)) ? 1u : 0u;
    }
    if (runs == 0u) {
        return 0;
    }
    target = index % runs;
    runs = 0;
    for (i = 0; i < size; i++) {
        if (data[i] != 0u && (i == 0u || data[i - 1u] == 0u) && runs++ == target) {
            *start = i;
            for (*end = i; *end < size && data[*end] != 0u; (*end)++) {
            }
            return 1;
        }
    }
    return 0;
}

/* Mutate the decoded header and payload of the frame at data[start, end), then re-encode it in place. Returns
 * the new input size, or 0 if that frame does not decode or the result would not fit max_size. */
static size_t mutate_frame(uint8_t *data, size_t size, size_t max_size, size_t start, size_t end, unsigned seed)
{
    static uint8_t raw[LIMIT];
    static uint8_t encoded[LNN_FW_MAX_ENCODED + 8u];
    long decoded = cobs_decode_ref(data + start, end - start, raw, LIMIT);
    size_t body;
    size_t n;
    if (decoded < (long)FRAME_MIN || (size_t)decoded > LNN_FW_MAX_DECODED) {
        return 0;
    }
    body = LLVMFuzzerMutate(raw, (size_t)decoded - LNN_FW_CRC_SIZE, LNN_FW_HEADER_SIZE + LNN_FW_MAX_PAYLOAD);
    if (body < LNN_FW_HEADER_SIZE) {
        return 0;
    }
    if ((seed & 3u) != 0u) {
        raw[2] = (uint8_t)((body - LNN_FW_HEADER_SIZE) & 0xFFu);
        raw[3] = (uint8_t)((body - LNN_FW_HEADER_SIZE) >> 8);
    }
    {
        uint16_t crc = crc16_ccitt_false(raw, body);
        raw[body] = (uint8_t)(crc & 0xFFu);
        raw[body + 1u] = (uint8_t)(crc >> 8);
    }
    n = cobs_encode_ref(raw, body + LNN_FW_CRC_SIZE, encoded);
    if (size - (end - start) + n > max_size) {
        return 0;
    }
    memmove(data + start + n, data + end, size - end);
    memcpy(data + start, encoded, n);
    return size - (end - start) + n;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size_t start = 0;
    size_t end = 0;
    size_t mutated = 0;
    if ((seed & 1u) != 0u && pick_run(data, size, seed >> 3, &start, &end)) {
        mutated = mutate_frame(data, size, max_size, start, end, seed >> 1);
    }
    return mutated != 0u ? mutated : LLVMFuzzerMutate(data, size, max_size);
}
