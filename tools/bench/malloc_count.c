/* libpx_malloc_count.so: an LD_PRELOAD shim that counts heap allocations of a process and
 * writes the totals at exit, optionally split into those made on behalf of a codec. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * PX_MALLOC_COUNT_OUT=FILE   append "pid=P allocs=A codec_allocs=C frees=F" to FILE at exit
 *                            (stderr when unset)
 * PX_MALLOC_CODEC=1          also walk each allocation's stack: one made while any frame
 *                            lies in a codec_*.so module or libprotobuf-c is the codec's
 * The real allocator is glibc's, reached through its __libc_* entry points (no dlsym, so
 * no recursion while the dynamic linker itself allocates).
 */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static uint64_t px__allocs, px__codec_allocs, px__frees;
static int px__walk;             /* PX_MALLOC_CODEC set */
static __thread int px__in_walk; /* backtrace/dladdr may allocate themselves */

static int px__is_codec_file(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "codec_", 6) == 0 || strstr(base, "libprotobuf-c") != NULL;
}

static void px__count(void)
{
    __atomic_add_fetch(&px__allocs, 1, __ATOMIC_RELAXED);
    if (!px__walk || px__in_walk)
        return;
    px__in_walk = 1;
    void *frames[24];
    int n = backtrace(frames, 24);
    for (int i = 2; i < n; i++) { /* 0, 1: this function and the allocator entry */
        Dl_info info;
        if (dladdr(frames[i], &info) && info.dli_fname && px__is_codec_file(info.dli_fname)) {
            __atomic_add_fetch(&px__codec_allocs, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    px__in_walk = 0;
}

void *malloc(size_t n)
{
    px__count();
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    px__count();
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    px__count();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    if (p)
        __atomic_add_fetch(&px__frees, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    px__count();
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (p == NULL)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

__attribute__((constructor)) static void px__start(void)
{
    const char *w = getenv("PX_MALLOC_CODEC");
    if (w && *w == '1') {
        void *f[2];
        px__in_walk = 1;
        backtrace(f, 2); /* loads the unwinder now, not inside a counted allocation */
        px__in_walk = 0;
        px__walk = 1;
    }
}

__attribute__((destructor)) static void px__report(void)
{
    char line[160];
    int len = snprintf(line, sizeof line, "pid=%d allocs=%llu codec_allocs=%llu frees=%llu\n",
                       (int)getpid(), (unsigned long long)px__allocs,
                       (unsigned long long)px__codec_allocs, (unsigned long long)px__frees);
    const char *out = getenv("PX_MALLOC_COUNT_OUT");
    int fd = out ? open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : 2;
    if (fd >= 0 && len > 0) {
        ssize_t w = write(fd, line, (size_t)len);
        (void)w;
    }
    if (out && fd >= 0)
        close(fd);
}
