/* The table the notify module owns: the outbox of notices. */
#include "notify.h"

static const cu_migration steps[] = {
    {1, "CREATE TABLE notices("
        " id INTEGER PRIMARY KEY, case_id TEXT,"
        " channel TEXT NOT NULL CHECK (channel IN ('email','webhook')),"
        " recipient TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,"
        " key TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,"
        " status TEXT NOT NULL CHECK (status IN ('pending','sent','failed')),"
        " attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,"
        " last_error TEXT, sent_at INTEGER);"
        "CREATE INDEX notices_pending ON notices(status, id);"},
};

const cu_schema cu_notify_schema = {"notify", steps, CU_ARRAY_LEN(steps)};
