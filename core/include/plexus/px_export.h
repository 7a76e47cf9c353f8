/* Symbol visibility: libplexus is built with hidden visibility; PX_API marks the SDK. */
#ifndef PLEXUS_PX_EXPORT_H
#define PLEXUS_PX_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PX_API __attribute__((visibility("default")))
#define PX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
/* The symbol a declaration binds to, when it is not the C name (a new version of a
 * function whose arguments changed layout; the old symbol stays for old binaries). */
#define PX_SYMBOL(sym) __asm__(sym)
#else
#define PX_API
#define PX_PRINTF(fmt, args)
#define PX_SYMBOL(sym)
#endif

#endif
