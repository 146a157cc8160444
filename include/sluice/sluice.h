/*
 * Everything a Sluice module needs: include this one header.
 * Start with module.h (the descriptor and the host table), then the header of your
 * module's kind. docs/modules.md walks through a complete module.
 */
#ifndef SLUICE_SLUICE_H
#define SLUICE_SLUICE_H

#include "result.h"
#include "settings.h"
#include "module.h"
#include "passdb.h"
#include "sasl.h"
#include "policy.h"
#include "mail.h"
#include "storage.h"
#include "index.h"

#endif
