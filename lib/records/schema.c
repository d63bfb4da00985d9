/*
 * The tables the records module owns: records and every place each was
 * found, attachments, thread nodes (with ghosts), the text and its FTS5
 * index, and the position an interrupted ingest resumes from.
 */
#include "records.h"

static const cu_migration steps[] = {
    {1, "CREATE TABLE records("
        " id INTEGER PRIMARY KEY,"
        " kind TEXT NOT NULL CHECK (kind IN ('mail','document')),"
        " content_id TEXT NOT NULL UNIQUE,"
        " raw_sha256 TEXT NOT NULL,"
        " size INTEGER NOT NULL,"
        " message_id TEXT NOT NULL,"
        " in_reply_to TEXT NOT NULL,"
        " refs TEXT NOT NULL,"
        " date INTEGER NOT NULL,"
        " type TEXT NOT NULL,"
        " flags INTEGER NOT NULL,"
        /* The row of record_text and records_fts: the date in the high
         * bits, so FTS5 returns hits in date order and a date range is a
         * rowid range. */
        " fts_rowid INTEGER NOT NULL UNIQUE,"
        " thread_id INTEGER);"
        /* thread.c drops and creates it again around a bulk update of
         * thread_id: a change here must be made there too. */
        "CREATE INDEX records_thread ON records(thread_id);"
        "CREATE TABLE record_places("
        " record_id INTEGER NOT NULL REFERENCES records(id),"
        " source_id INTEGER NOT NULL REFERENCES sources(id),"
        " path TEXT NOT NULL,"
        " offset INTEGER NOT NULL,"
        " length INTEGER NOT NULL,"
        " raw_sha256 TEXT NOT NULL,"
        " PRIMARY KEY(source_id, path, offset)) WITHOUT ROWID;"
        "CREATE INDEX record_places_record ON record_places(record_id);"
        "CREATE TABLE attachments("
        " record_id INTEGER NOT NULL REFERENCES records(id),"
        " idx INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
        " size INTEGER NOT NULL, sha256 TEXT NOT NULL,"
        " PRIMARY KEY(record_id, idx)) WITHOUT ROWID;"
        "CREATE TABLE thread_nodes("
        " id INTEGER PRIMARY KEY,"
        " thread_id INTEGER NOT NULL,"
        " parent_id INTEGER,"
        " message_id TEXT NOT NULL,"
        " record_id INTEGER);" /* NULL: a ghost, referenced but missing */
        /* thread.c drops and creates these again around filling an
         * empty thread_nodes: a change here must be made there too. */
        "CREATE INDEX thread_nodes_thread ON thread_nodes(thread_id);"
        "CREATE INDEX thread_nodes_record ON thread_nodes(record_id);"
        "CREATE TABLE record_text("
        " rowid INTEGER PRIMARY KEY,"
        " subject TEXT NOT NULL, sender TEXT NOT NULL,"
        " recipients TEXT NOT NULL, body TEXT NOT NULL,"
        " attachments TEXT NOT NULL);"
        "CREATE VIRTUAL TABLE records_fts USING fts5("
        " subject, sender, recipients, body, attachments,"
        " content='record_text', content_rowid='rowid',"
        " tokenize='unicode61 remove_diacritics 2');"
        "CREATE TABLE records_progress("
        " source_id INTEGER PRIMARY KEY REFERENCES sources(id),"
        " position INTEGER NOT NULL,"
        " expected INTEGER NOT NULL, accepted INTEGER NOT NULL,"
        " failed INTEGER NOT NULL, duplicates INTEGER NOT NULL,"
        " raw INTEGER NOT NULL, bytes INTEGER NOT NULL);"},
    /* FTS5 merges the segments of a level once it holds 'automerge' of
     * them (4 by default).  An ingest writes one segment per batch, so
     * with 4 every page of the index was written again at each level, a
     * fifth of the writer's time at 200,000 messages.  With 8 a page is
     * merged half as often, and a search still reads at most 7 segments
     * a level; never merging (0) is cheaper still, but 64 segments
     * doubled the CPU time of a phrase search (docs/internals.md). */
    {2, "INSERT INTO records_fts(records_fts, rank) VALUES('automerge', 8);"},
};

const cu_schema cu_records_schema = {"records", steps, CU_ARRAY_LEN(steps)};
