/* Symbol visibility: libplexus is built with hidden visibility; PX_API marks the SDK. */
#ifndef PLEXUS_PX_EXPORT_H
#define PLEXUS_PX_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PX_API __attribute__((visibility("default")))
#define PX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PX_API
#define PX_PRINTF(fmt, args)
#endif

#endif
