/* Inside analysis/ only: the SQLite connection behind an au_estimate_db, so that the report
 * loader reads its own tables on the same connection, hence inside the same snapshot
 * (au_estimate_begin), as the estimates. Other modules never see sqlite3 (style guide, 1). */
#ifndef AU_ANALYSIS_ESTIMATE_DB_H
#define AU_ANALYSIS_ESTIMATE_DB_H

#include "estimate.h"

#include <sqlite3.h>

/* Borrowed: valid until au_estimate_close(db). Do not close it or change its settings. */
sqlite3 *au_estimate_sqlite(au_estimate_db *db);

#endif
