/*
 * gen: the generator's entry point.  Checks the output directory, builds
 * the world, runs the writers in a fixed order (directory, usage,
 * allegation, mail, documents) and finishes with MANIFEST.json, which
 * names every file with its size and row count and the demo story's ids.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gen/genInt.h"

custos_rc cu_gen_parse_scale(const char *s, uint64_t *rows, custos_diag *d) {
  static const struct {
    const char *name;
    uint64_t rows;
  } named[] = {{"small", CU_GEN_ROWS_SMALL},
               {"medium", CU_GEN_ROWS_MEDIUM},
               {"large", CU_GEN_ROWS_LARGE},
               {"huge", CU_GEN_ROWS_HUGE}};
  for (size_t i = 0; i < CU_ARRAY_LEN(named); i++) {
    if (strcmp(s, named[i].name) == 0) {
      *rows = named[i].rows;
      return CUSTOS_OK;
    }
  }
  bool digits = *s != '\0';
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9')
      digits = false;
  unsigned long long v = 0;
  if (digits) {
    errno = 0;
    v = strtoull(s, NULL, 10);
    if (errno != 0)
      digits = false;
  }
  if (!digits || v < CU_GEN_ROWS_MIN || v > CU_GEN_ROWS_MAX) {
    cu_diag_field(d, "scale", s, strlen(s));
    cu_diag_hint(d,
                 "use small, medium, large, huge or a number of usage rows "
                 "from %llu to %llu",
                 (unsigned long long)CU_GEN_ROWS_MIN,
                 (unsigned long long)CU_GEN_ROWS_MAX);
    return cu_diag_set(d, CUSTOS_EINVAL, "not a valid scale");
  }
  *rows = v;
  return CUSTOS_OK;
}

custos_rc cu_gen_ctx_done(cu_gen_ctx *c, cu_gen_sink *s, custos_diag *d) {
  uint64_t rows = s->rows, raw = s->raw_bytes;
  char rel[sizeof s->rel];
  snprintf(rel, sizeof rel, "%s", s->rel);
  custos_rc rc = cu_gen_sink_close(s, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint64_t bytes = cu_gen_sink_disk_size(s);
  c->st->files++;
  c->st->bytes += bytes;
  c->st->raw_bytes += raw;
  json_t *f = json_pack("{s:s,s:I,s:I}", "path", rel, "bytes",
                        (json_int_t)bytes, "rows", (json_int_t)rows);
  if (!f || json_array_append_new((json_t *)c->files, f) != 0)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory in the manifest");
  cu_gen_ctx_progress(c);
  return CUSTOS_OK;
}

void cu_gen_ctx_progress(cu_gen_ctx *c) {
  if (c->o->progress)
    c->o->progress(c->o->progress_ud, c->st);
}

/* EEXIST when dir exists and holds anything; creates it when missing. */
static custos_rc check_out(const cu_gen_opts *o, custos_diag *d) {
  DIR *dir = opendir(o->out);
  if (!dir) {
    if (errno != ENOENT) {
      cu_diag_at(d, o->out, 0, 0);
      return cu_diag_set(d, CUSTOS_EIO, "cannot open: %s", strerror(errno));
    }
    return cu_mkdirs(o->out, 0755, d);
  }
  bool empty = true;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(dir);
  if (!empty && !o->force) {
    cu_diag_at(d, o->out, 0, 0);
    cu_diag_hint(d, "choose an empty or new directory, or pass --force");
    return cu_diag_set(d, CUSTOS_EEXIST, "output directory is not empty");
  }
  return CUSTOS_OK;
}

static json_t *demo_json(void) {
  return json_pack(
      "{s:s,s:s,s:s,s:{s:s,s:s,s:s},s:{s:[s,s,s],s:[s,s],s:[s]},s:s,"
      "s:s,s:s}",
      "account", CU_GEN_DEMO_ACCOUNT, "name",
      "Ministry of Defence of the Republic of Arvelia", "country",
      CU_GEN_DEMO_COUNTRY, "units", "hq", CU_GEN_DEMO_UNIT_HQ, "signals",
      CU_GEN_DEMO_UNIT_SIG, "cyber", CU_GEN_DEMO_UNIT_CYB, "subscriptions",
      "signals", CU_GEN_DEMO_SUB_SIG1, CU_GEN_DEMO_SUB_SIG2,
      CU_GEN_DEMO_SUB_SIG3, "cyber", CU_GEN_DEMO_SUB_CYB1,
      CU_GEN_DEMO_SUB_CYB2, "hq", CU_GEN_DEMO_SUB_HQ, "storage_region",
      "westeurope", "allegation", "allegation.md", "account_plan",
      "docs/account-plans/acct-arv-mod.md");
}

static custos_rc write_manifest(cu_gen_ctx *c, custos_diag *d) {
  const cu_gen_opts *o = c->o;
  const cu_gen_stats *st = c->st;
  c->st->phase = "manifest";
  json_t *m = json_pack(
      "{s:s,s:s,s:i,s:I,s:s,s:I,s:b,s:s,s:{s:s,s:s},s:O,s:{s:I,s:I,s:I,s:I,"
      "s:I,s:I,s:I,s:I},s:o}",
      "generator", "custos gen", "version", CUSTOS_VERSION, "format", 1,
      "seed", (json_int_t)o->seed, "scale",
      o->scale_name ? o->scale_name : "", "usage_rows_target",
      (json_int_t)o->rows, "dirty", o->dirty, "provider", GEN_PROVIDER,
      "window", "start", "2024-03-01", "end", "2025-09-01", "files",
      (json_t *)c->files, "totals", "usage_rows", (json_int_t)st->usage_rows,
      "restated_rows", (json_int_t)st->restated_rows, "accounts",
      (json_int_t)st->accounts, "units", (json_int_t)st->units,
      "subscriptions", (json_int_t)st->subscriptions, "contacts",
      (json_int_t)st->contacts, "messages", (json_int_t)st->messages,
      "documents", (json_int_t)st->documents, "demo", demo_json());
  if (!m)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory in the manifest");
  char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(m);
  if (!text)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory in the manifest");
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, o->out, "MANIFEST.json", false, d);
  if (rc == CUSTOS_OK) {
    cu_gen_puts(&s, text);
    cu_gen_putc(&s, '\n');
    rc = cu_gen_sink_close(&s, d);
  }
  free(text);
  return rc;
}

custos_rc cu_gen_run(const cu_gen_opts *o, cu_gen_stats *st, custos_diag *d) {
  cu_gen_stats local;
  if (!st)
    st = &local;
  memset(st, 0, sizeof *st);
  if (!o || !o->out || !*o->out)
    return cu_diag_set(d, CUSTOS_EINVAL, "no output directory given");
  if (o->rows < CU_GEN_ROWS_MIN || o->rows > CU_GEN_ROWS_MAX)
    return cu_diag_set(d, CUSTOS_EINVAL, "scale out of range: %llu rows",
                       (unsigned long long)o->rows);
  custos_rc rc = check_out(o, d);
  if (rc != CUSTOS_OK)
    return rc;
  static const char *const dirs[] = {
      "directory", "usage", "mail", "mail/account-team/cur",
      "mail/account-team/new", "mail/account-team/tmp",
      "mail/account-team/.Sales/cur", "mail/account-team/.Sales/new",
      "mail/account-team/.Sales/tmp", "docs/account-plans", "docs/contracts",
      "docs/invoices"};
  for (size_t i = 0; i < CU_ARRAY_LEN(dirs); i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->out, dirs[i]);
    rc = cu_mkdirs(path, 0755, d);
    if (rc != CUSTOS_OK)
      return rc;
  }

  cu_gen_world w;
  rc = cu_gen_world_build(&w, o->seed, o->rows, o->dirty, d);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *files = json_array();
  if (!files) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
    goto fail_world;
  }
  cu_gen_ctx c = {o, &w, st, files};
  rc = cu_gen_directory(&c, d);
  if (rc == CUSTOS_OK)
    rc = cu_gen_usage(&c, d);
  if (rc == CUSTOS_OK)
    rc = cu_gen_allegation(&c, d);
  if (rc == CUSTOS_OK)
    rc = cu_gen_mail(&c, d);
  if (rc == CUSTOS_OK)
    rc = cu_gen_docs(&c, d);
  if (rc == CUSTOS_OK)
    rc = write_manifest(&c, d);
  json_decref(files);
fail_world:
  cu_gen_world_free(&w);
  return rc;
}
