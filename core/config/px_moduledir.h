/* Where this installation's standard modules are: found from where the core runs. */
#ifndef PX_MODULEDIR_H
#define PX_MODULEDIR_H

/**
 * The installed module directory, derived from the file the core runs from, so a moved
 * install still finds its own modules: libplexus.so in LIBDIR gives LIBDIR/plexus/modules,
 * a program with the core linked in (plexusd, plexus) gives BINDIR/../LIBDIR/plexus/modules
 * (both relative paths computed from the real install layout at configure time). A program
 * or library inside the build tree that has no such directory uses the build's modules/.
 * Computed once; never NULL.
 */
const char *px_moduledir_installed(void);

#endif
