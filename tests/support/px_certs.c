/* Test helper: TLS certificates made at test time with the openssl CLI, so no key is
 * ever committed. One openssl process per certificate where it can be (req -x509 -CA
 * makes the key and the signed certificate at once), independent steps run at once. */
#define _GNU_SOURCE
#include "px_certs.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "px_proc.h"

/* Valid certificates are issued "now" by req -x509, which in OpenSSL 3.0 cannot set
 * notBefore; the two dated ones go through `openssl ca -startdate/-enddate`. */
typedef struct cert_spec {
    const char *name;   /* NAME.pem, NAME.key */
    const char *subj;
    const char *ext;    /* section of the generated openssl.cnf */
    const char *issuer; /* NULL: a self-signed CA */
    const char *serial; /* hex */
    const char *start, *end; /* NULL: valid from now for VALID_DAYS */
} cert_spec;

#define VALID_DAYS "30"
#define WORK ".px-certs-work" /* inside dir: the config, CSRs, CA databases, logs */

static const cert_spec CERTS[] = {
    {"ca", "/O=Plexus Test/CN=Plexus Test CA", "ca_ext", NULL, "01", NULL, NULL},
    {"other-ca", "/O=Plexus Other/CN=Plexus Other CA", "ca_ext", NULL, "02", NULL, NULL},
    {"server", "/CN=localhost", "server_ext", "ca", "1001", NULL, NULL},
    {"server2", "/CN=server2.localhost", "server_ext", "ca", "1002", NULL, NULL},
    {"wronghost", "/CN=wrong.example", "wronghost_ext", "ca", "1003", NULL, NULL},
    {"client", "/CN=alice", "alice_ext", "ca", "1004", NULL, NULL},
    {"expired", "/CN=expired.localhost", "server_ext", "ca", "1005", "20200101000000Z",
     "20210101000000Z"},
    {"notyet", "/CN=notyet.localhost", "server_ext", "ca", "1006", "20990101000000Z",
     "21000101000000Z"},
    {"other-server", "/CN=localhost", "server_ext", "other-ca", "2001", NULL, NULL},
    {"client-other", "/CN=mallory", "mallory_ext", "other-ca", "2002", NULL, NULL},
};
#define NCERTS (sizeof CERTS / sizeof CERTS[0])

/* What every leaf certificate carries besides its use and names. */
#define LEAF_EXTS                                                                      \
    "basicConstraints = critical, CA:FALSE\n"                                          \
    "keyUsage = critical, digitalSignature\n"                                          \
    "subjectKeyIdentifier = hash\n"                                                    \
    "authorityKeyIdentifier = keyid\n"

/* The extension sections (the dated certificates' CA sections are added by
 * write_config). */
static const char CONFIG_EXTS[] =
    "[ req ]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[ dn ]\n"
    "[ policy_any ]\n"
    "commonName = supplied\n"
    "[ ca_ext ]\n"
    "basicConstraints = critical, CA:TRUE\n"
    "keyUsage = critical, keyCertSign, cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[ server_ext ]\n" LEAF_EXTS
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
    "[ wronghost_ext ]\n" LEAF_EXTS
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:wrong.example\n"
    "[ alice_ext ]\n" LEAF_EXTS
    "extendedKeyUsage = clientAuth\n"
    "subjectAltName = URI:spiffe://plexus.test/alice, DNS:alice.clients.test\n"
    "[ mallory_ext ]\n" LEAF_EXTS
    "extendedKeyUsage = clientAuth\n"
    "subjectAltName = URI:spiffe://plexus.test/mallory\n";

int px_certs_find_openssl(char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        struct stat st;
        if (n > 0 && (size_t)snprintf(buf, cap, "%.*s/openssl", (int)n, path) < cap &&
            stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One openssl run: its argv (strings kept in buf) and its combined output in log. */
typedef struct step {
    const char *what; /* the file it makes, for messages */
    char *argv[40];
    int argc, overflow;
    char buf[4096];
    size_t used;
    char log[512];
    pid_t pid;
} step;

static void arg(step *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof s->buf - s->used;
    int n = vsnprintf(s->buf + s->used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room || s->argc + 1 >= (int)(sizeof s->argv / sizeof s->argv[0])) {
        s->overflow = 1;
        return;
    }
    s->argv[s->argc++] = s->buf + s->used;
    s->argv[s->argc] = NULL;
    s->used += (size_t)n + 1;
}

/* Literal arguments, up to a NULL. */
static void lits(step *s, ...)
{
    va_list ap;
    va_start(ap, s);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
        arg(s, "%s", a);
    va_end(ap);
}

static void step_init(step *s, const char *openssl, const char *work, const char *name,
                      const char *verb)
{
    memset(s, 0, sizeof *s);
    s->what = name;
    s->pid = -1;
    snprintf(s->log, sizeof s->log, "%s/%s.%s.log", work, name, verb);
    lits(s, openssl, verb, "-config", NULL);
    arg(s, "%s/openssl.cnf", work);
}

/* The issuer's certificate and key, after the options that name them. */
static void issuer_args(step *s, const char *dir, const char *issuer, const char *cert_opt,
                        const char *key_opt)
{
    arg(s, "%s", cert_opt);
    arg(s, "%s/%s.pem", dir, issuer);
    arg(s, "%s", key_opt);
    arg(s, "%s/%s.key", dir, issuer);
}

/* req: a new P-256 key into NAME.key and either a certificate (-x509, self-signed or
 * from the issuer) into NAME.pem, or a CSR into the work dir for `openssl ca`. */
static void req_step(step *s, const char *openssl, const char *dir, const char *work,
                     const cert_spec *c)
{
    step_init(s, openssl, work, c->name, "req");
    lits(s, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc", "-subj", c->subj,
         "-keyout", NULL);
    arg(s, "%s/%s.key", dir, c->name);
    if (c->start) {
        lits(s, "-new", "-out", NULL);
        arg(s, "%s/%s.csr", work, c->name);
        return;
    }
    lits(s, "-x509", "-days", VALID_DAYS, "-extensions", c->ext, "-set_serial", NULL);
    arg(s, "0x%s", c->serial);
    lits(s, "-out", NULL);
    arg(s, "%s/%s.pem", dir, c->name);
    if (c->issuer)
        issuer_args(s, dir, c->issuer, "-CA", "-CAkey");
}

/* ca: signs NAME's CSR with its own CA section (own database and serial, so the
 * dated certificates can be signed at once). */
static void ca_step(step *s, const char *openssl, const char *dir, const char *work,
                    const cert_spec *c)
{
    step_init(s, openssl, work, c->name, "ca");
    lits(s, "-batch", "-notext", "-startdate", c->start, "-enddate", c->end, "-extensions",
         c->ext, "-name", NULL);
    arg(s, "ca_%s", c->name);
    issuer_args(s, dir, c->issuer, "-cert", "-keyfile");
    lits(s, "-in", NULL);
    arg(s, "%s/%s.csr", work, c->name);
    lits(s, "-out", NULL);
    arg(s, "%s/%s.pem", dir, c->name);
}

/* The last lines of a step's output, on one line, for an error message. */
static void log_tail(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (text[i] == '\n')
            text[i] = '|';
    const char *from = n >= cap ? text + n - (cap - 1) : text;
    size_t l = strlen(from) < cap ? strlen(from) : cap - 1;
    memcpy(out, from, l);
    out[l] = '\0';
}

/* Waits (bounded: openssl needs well under a second; 60 s means it hangs) for pid. */
static int wait_bounded(pid_t pid, int *status)
{
    struct timespec tick = {0, 5 * 1000000L};
    for (int i = 0; i < 12000; i++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

/* Runs the steps at once and waits for all; the first failure goes into err. */
static px_status run_phase(step *steps, int n, px_err *err)
{
    px_status st = PX_OK;
    for (int i = 0; i < n; i++) {
        if (steps[i].overflow) {
            st = px_err_set(err, PX_INVALID_ARGUMENT,
                            "px_certs: the command for %s.pem is too long (dir path?)",
                            steps[i].what);
            break;
        }
        steps[i].pid = px_spawn(steps[i].argv, steps[i].log);
        if (steps[i].pid < 0) {
            st = px_err_set(err, PX_INTERNAL, "px_certs: cannot start %s for %s.pem",
                            steps[i].argv[0], steps[i].what);
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        if (steps[i].pid < 0)
            continue;
        int status = 0;
        int waited = wait_bounded(steps[i].pid, &status);
        if (st != PX_OK)
            continue;
        if (waited != 0) {
            st = px_err_set(err, PX_DEADLINE_EXCEEDED,
                            "px_certs: openssl %s for %s.pem did not finish within 60 s",
                            steps[i].argv[1], steps[i].what);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char said[320];
            log_tail(steps[i].log, said, sizeof said);
            st = px_err_set(err, PX_INTERNAL, "px_certs: openssl %s for %s.pem failed (%s %d): %s",
                            steps[i].argv[1], steps[i].what,
                            WIFEXITED(status) ? "exit" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), said);
        }
    }
    return st;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* openssl.cnf plus, per dated certificate, its CA section with an empty database and
 * its serial. */
static int write_config(const char *work)
{
    char path[1024], val[1024];
    snprintf(path, sizeof path, "%s/openssl.cnf", work);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fputs(CONFIG_EXTS, f) >= 0;
    for (size_t i = 0; i < NCERTS; i++) {
        const cert_spec *c = &CERTS[i];
        if (!c->start)
            continue;
        fprintf(f,
                "[ ca_%s ]\n"
                "database = %s/%s.index\n"
                "serial = %s/%s.serial\n"
                "new_certs_dir = %s\n"
                "default_md = sha256\n"
                "policy = policy_any\n"
                "unique_subject = no\n",
                c->name, work, c->name, work, c->name, work);
        snprintf(val, sizeof val, "%s/%s.index", work, c->name);
        ok = ok && write_file(val, "") == 0;
        snprintf(val, sizeof val, "%s/%s.serial", work, c->name);
        char serial[32];
        snprintf(serial, sizeof serial, "%s\n", c->serial);
        ok = ok && write_file(val, serial) == 0;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The config file takes dir literally: these would be read as variables, comments or
 * escapes there. */
static int dir_fits_config(const char *dir)
{
    return strpbrk(dir, "$#\\\"'\n") == NULL && strlen(dir) < 300;
}

px_status px_certs_make(const char *dir, px_err *err)
{
    char openssl[512];
    if (px_certs_find_openssl(openssl, sizeof openssl) != 0)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "px_certs: no openssl program on PATH (Debian package openssl, "
                          "tools/install-deps.sh installs it)");
    if (dir == NULL || *dir == '\0' || !dir_fits_config(dir))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "px_certs: directory '%s' is empty, longer than 299 bytes or holds "
                          "one of $ # \\ \" ' or a newline",
                          dir ? dir : "(null)");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_certs: cannot create '%s': %s", dir,
                          strerror(errno));
    char work[512];
    snprintf(work, sizeof work, "%s/" WORK, dir);
    rm_tree(work);
    if (mkdir(work, 0700) != 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_certs: cannot create '%s': %s", work,
                          strerror(errno));
    px_status st = PX_OK;
    if (write_config(work) != 0)
        st = px_err_set(err, PX_INTERNAL, "px_certs: cannot write the openssl config in '%s': %s",
                        work, strerror(errno));

    /* CAs first; then every leaf key (and the dated ones' CSRs) at once; then the dated
     * ones are signed. */
    step *steps = calloc(NCERTS, sizeof *steps); /* ~5 KiB each: off the test's stack */
    if (st == PX_OK && steps == NULL)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "px_certs: out of memory");
    for (int phase = 0; phase < 3 && st == PX_OK; phase++) {
        int n = 0;
        for (size_t i = 0; i < NCERTS; i++) {
            const cert_spec *c = &CERTS[i];
            if (phase == 0 && !c->issuer)
                req_step(&steps[n++], openssl, dir, work, c);
            else if (phase == 1 && c->issuer)
                req_step(&steps[n++], openssl, dir, work, c);
            else if (phase == 2 && c->start)
                ca_step(&steps[n++], openssl, dir, work, c);
        }
        st = run_phase(steps, n, err);
    }
    free(steps);

    /* openssl 3 writes keys 0600 already; chmod says so regardless of its version. */
    for (size_t i = 0; i < NCERTS && st == PX_OK; i++) {
        char key[512];
        snprintf(key, sizeof key, "%s/%s.key", dir, CERTS[i].name);
        if (chmod(key, 0600) != 0)
            st = px_err_set(err, PX_INTERNAL, "px_certs: chmod 0600 '%s': %s", key,
                            strerror(errno));
    }
    rm_tree(work);
    if (st == PX_OK)
        px_err_clear(err);
    return st;
}

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static char shared_dir[64];

static void remove_shared(void)
{
    if (shared_dir[0])
        rm_tree(shared_dir);
}

const char *px_certs_shared(px_err *err)
{
    pthread_mutex_lock(&shared_lock);
    const char *dir = NULL;
    if (shared_dir[0]) {
        dir = shared_dir;
        px_err_clear(err);
    } else {
        char tmp[] = "/tmp/pxcerts-XXXXXX";
        if (mkdtemp(tmp) == NULL) {
            px_err_set(err, PX_INTERNAL, "px_certs: mkdtemp %s: %s", tmp, strerror(errno));
        } else if (px_certs_make(tmp, err) != PX_OK) {
            rm_tree(tmp);
        } else {
            static int registered;
            if (!registered)
                registered = atexit(remove_shared) == 0;
            snprintf(shared_dir, sizeof shared_dir, "%s", tmp);
            dir = shared_dir;
        }
    }
    pthread_mutex_unlock(&shared_lock);
    return dir;
}
