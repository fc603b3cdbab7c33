/* lnn_icount_plugin.c: a QEMU TCG plugin that counts the instructions of each call of one function.
 *
 * Arguments: entry=<hex address of the function's first instruction>, ret=<hex address the call returns to>.
 * Counting starts when the entry instruction executes (it is counted) and stops when the return address
 * executes (not counted); each call's count is printed as "lnn-icount <n>" through qemu_plugin_outs (run QEMU
 * with -d plugin -D <log>). Every executed instruction gets a callback, condition-failed ones inside IT
 * blocks included, so the counts equal a per-basic-block count of the same run.
 *
 * QEMU 7.2 speaks plugin API version 1 and Debian ships no qemu-plugin.h: the few declarations used are
 * written out below (they are the plugin ABI, stable since QEMU 4.2).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_outs(const char *string);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t entry_address;
static uint64_t return_address;
static int counting;
static uint64_t count;

static void on_instruction(unsigned int vcpu_index, void *userdata)
{
    uint64_t address = (uint64_t)(uintptr_t)userdata;
    char line[64];
    (void)vcpu_index;
    if (address == return_address && counting) {
        snprintf(line, sizeof line, "lnn-icount %" PRIu64 "\n", count);
        qemu_plugin_outs(line);
        counting = 0;
        return;
    }
    if (address == entry_address && !counting) {
        counting = 1;
        count = 0;
    }
    if (counting) {
        count++;
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t address = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_instruction, QEMU_PLUGIN_CB_NO_REGS,
                                               (void *)(uintptr_t)address);
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "entry=", 6) == 0) {
            entry_address = strtoull(argv[i] + 6, NULL, 16);
        } else if (strncmp(argv[i], "ret=", 4) == 0) {
            return_address = strtoull(argv[i] + 4, NULL, 16);
        }
    }
    if (entry_address == 0 && return_address == 0) {
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    return 0;
}
