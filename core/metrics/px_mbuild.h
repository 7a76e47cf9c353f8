/* plexus_build_info, registered once (px_mbuild.c). */
#ifndef PX_MBUILD_H
#define PX_MBUILD_H

void px__mbuild_info(void);

#endif
