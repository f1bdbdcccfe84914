/*
 * replay_main.c — runs a fuzz target's LLVMFuzzerTestOneInput over files, without
 * libFuzzer (so `make test` can replay the committed corpora with any compiler's
 * ASan + UBSan).
 *
 *     replay_fuzz_quant [-t SECONDS] DIR_OR_FILE...
 *
 * Every file of every directory (sorted by name, not recursive) runs in a forked
 * child with an alarm of SECONDS (default 15, or $FUZZ_REPLAY_TIMEOUT): a crash, a
 * sanitizer report, a failed FZ_CHECK or a hang fails that file only, and the
 * others still run. Prints one line per failure and a closing line
 *     <target>: N passed, M failed
 * and exits 1 if any file failed (or none was found).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_file(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); return -1; }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); return -1; }
    *data = buf;
    *size = n;
    return 0;
}

static int passed = 0, failed = 0;
static unsigned timeout_s = 15;

static void run_one(const char *path) {
    uint8_t *data = NULL;
    size_t size = 0;
    if (read_file(path, &data, &size) != 0) {
        printf("FAIL %s: cannot read: %s\n", path, strerror(errno));
        failed++;
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL %s: fork: %s\n", path, strerror(errno));
        failed++;
        free(data);
        return;
    }
    if (pid == 0) {
        alarm(timeout_s);  /* default action of SIGALRM ends the child: reported as a hang */
        /* libFuzzer hands the target a buffer of exactly `size` bytes: do the same, so
         * that ASan sees any read past the input */
        uint8_t *exact = malloc(size ? size : 1);
        if (size) memcpy(exact, data, size);
        free(data);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
        exit(0);  /* exit (not _exit): LeakSanitizer runs here */
    }
    free(data);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        passed++;
        return;
    }
    failed++;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        printf("FAIL %s: timeout (no result after %u s: a hang)\n", path, timeout_s);
    else if (WIFSIGNALED(status))
        printf("FAIL %s: killed by signal %d (%s)\n", path, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        printf("FAIL %s: exit status %d (sanitizer report or failed check above)\n", path, WEXITSTATUS(status));
    fflush(stdout);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("FAIL %s: %s\n", path, strerror(errno));
        failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) { run_one(path); return; }
    DIR *d = opendir(path);
    if (!d) { printf("FAIL %s: %s\n", path, strerror(errno)); failed++; return; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;  /* ., .., and hidden files such as .gitkeep */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) break;
            names = nn;
        }
        if (asprintf(&names[n], "%s/%s", path, e->d_name) < 0) break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat fs;
        if (stat(names[i], &fs) == 0 && S_ISREG(fs.st_mode)) run_one(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    const char *env = getenv("FUZZ_REPLAY_TIMEOUT");
    if (env && atoi(env) > 0) timeout_s = (unsigned)atoi(env);
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-t") == 0) {
        if (atoi(argv[2]) > 0) timeout_s = (unsigned)atoi(argv[2]);
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-t SECONDS] DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = first; i < argc; i++) run_path(argv[i]);
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    if (strncmp(name, "replay_", 7) == 0) name += 7;
    if (passed + failed == 0) {
        printf("%s: no input files found\n", name);
        return 1;
    }
    printf("%s: %d passed, %d failed\n", name, passed, failed);
    return failed ? 1 : 0;
}
