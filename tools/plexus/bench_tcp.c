/* plexus bench: counts this process's established TCP connections, to show what C really opened. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_rpc.h"

#define PX__MAX_SOCKETS 4096

static int px__cmp_ul(const void *x, const void *y)
{
    unsigned long a = *(const unsigned long *)x, b = *(const unsigned long *)y;
    return a < b ? -1 : a > b;
}

/* Lines of /proc/self/net/tcp[6] in state 01 (ESTABLISHED) whose inode is one of ours. */
static int px__count_in(const char *table, const unsigned long *inodes, size_t n)
{
    FILE *fp = fopen(table, "r");
    if (fp == NULL)
        return -1;
    char line[512];
    int count = 0;
    if (fgets(line, sizeof line, fp) == NULL) { /* the column header */
        fclose(fp);
        return 0;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        unsigned state = 0;
        unsigned long inode = 0;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &state, &inode) == 2 &&
            state == 1 && bsearch(&inode, inodes, n, sizeof *inodes, px__cmp_ul) != NULL)
            count++;
    }
    fclose(fp);
    return count;
}

int px_bench_tcp_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    static unsigned long inodes[PX__MAX_SOCKETS];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < PX__MAX_SOCKETS) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof link - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        unsigned long inode;
        if (sscanf(link, "socket:[%lu]", &inode) == 1)
            inodes[n++] = inode;
    }
    closedir(d);
    qsort(inodes, n, sizeof *inodes, px__cmp_ul);
    int v4 = px__count_in("/proc/self/net/tcp", inodes, n);
    int v6 = px__count_in("/proc/self/net/tcp6", inodes, n);
    if (v4 < 0)
        return -1;
    return v4 + (v6 > 0 ? v6 : 0);
}
