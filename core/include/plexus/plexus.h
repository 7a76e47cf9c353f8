/* The Plexus SDK: everything a module or application includes. */
#ifndef PLEXUS_PLEXUS_H
#define PLEXUS_PLEXUS_H

#include "px_export.h"
#include "px_status.h"
#include "px_buf.h"
#include "px_units.h"
#include "px_meta.h"
#include "px_module.h"
#include "px_endpoint.h"
#include "px_codec.h"
#include "px_balancer.h"
#include "px_failover.h"
#include "px_timeout.h"
#include "px_service.h"
#include "px_filter.h"
#include "px_naming.h"
#include "px_registry.h"
#include "px_protocol.h"
#include "px_config.h"
#include "px_client.h"
#include "px_server.h"
#include "px_log.h"
#include "px_codec_util.h"
#include "px_descset.h"
#include "px_metrics.h"
#include "px_admin.h"

#define PLEXUS_VERSION "0.1.0"

#endif
