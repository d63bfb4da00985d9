/*
 * custos directory: look at the catalogue (regions, services) and at the
 * ingested directory (accounts, one account's tree of units and
 * subscriptions).
 */
#include <string.h>

#include <jansson.h>

#include "directory/directory.h"
#include "tool.h"

static const char help[] =
    "usage: custos directory regions [--country CC] [--provider P]\n"
    "       custos directory resolve NAME\n"
    "       custos directory services\n"
    "       custos directory accounts [--country CC]\n"
    "       custos directory show ACCOUNT\n"
    "\n"
    "regions   the region catalogue with each region's physical country\n"
    "resolve   which region an alias (weu, West Europe, westeurope...) names\n"
    "services  the FOCUS 1.2 service categories and subcategories\n"
    "accounts  ingested accounts with their unit and subscription counts\n"
    "show      one account: its units as a tree, subscriptions, contacts\n";

static int regions(const cu_catalog *cat, const char *country,
                   const char *provider) {
  json_t *arr = tool_g.json ? json_array() : NULL;
  for (size_t i = 0; i < cu_catalog_nregions(cat); i++) {
    const cu_region *r = cu_catalog_region_at(cat, i);
    if (country && strcmp(country, r->country) != 0)
      continue;
    if (provider && strcmp(provider, r->provider) != 0)
      continue;
    if (arr)
      json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "id", r->id,
                                           "provider", r->provider,
                                           "display_name", r->display_name,
                                           "country", r->country));
    else
      printf("%-32s %-3s %s\n", r->id, r->country, r->display_name);
  }
  if (arr)
    tool_print_json(arr);
  return TOOL_EXIT_OK;
}

static int services(const cu_catalog *cat) {
  json_t *arr = tool_g.json ? json_array() : NULL;
  for (size_t i = 0; i < cu_catalog_ncategories(cat); i++) {
    const char *c, *s;
    cu_catalog_category_at(cat, i, &c, &s);
    if (arr)
      json_array_append_new(
          arr, json_pack("{s:s,s:s}", "category", c, "subcategory", s));
    else
      printf("%-28s %s\n", c, s);
  }
  if (arr)
    tool_print_json(arr);
  return TOOL_EXIT_OK;
}

static int accounts(cu_ws *ws, const char *country) {
  sqlite3_stmt *st = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT a.id, a.name, a.country, a.sector,"
      " (SELECT COUNT(*) FROM units u WHERE u.account_id = a.id),"
      " (SELECT COUNT(*) FROM subscriptions s WHERE s.account_id = a.id)"
      " FROM accounts a WHERE ?1 IS NULL OR a.country = ?1 ORDER BY a.id",
      &st, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (country)
    sqlite3_bind_text(st, 1, country, -1, SQLITE_STATIC);
  json_t *arr = tool_g.json ? json_array() : NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *cc = (const char *)sqlite3_column_text(st, 2);
    const char *sector = (const char *)sqlite3_column_text(st, 3);
    long long nu = sqlite3_column_int64(st, 4), ns = sqlite3_column_int64(st, 5);
    if (arr)
      json_array_append_new(
          arr, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "id", id, "name", name,
                         "country", cc, "sector", sector, "units",
                         (json_int_t)nu, "subscriptions", (json_int_t)ns));
    else
      printf("%-24s %-2s %-12s %4lld units %5lld subs  %s\n", id, cc, sector,
             nu, ns, name);
  }
  sqlite3_finalize(st);
  if (arr)
    tool_print_json(arr);
  return TOOL_EXIT_OK;
}

static int show(cu_ws *ws, const char *account) {
  custos_diag d;
  custos_diag_clear(&d);
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws, "SELECT name, country, sector FROM accounts WHERE id = ?1", &st, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    cu_diag_field(&d, "account", account, strlen(account));
    cu_diag_hint(&d, "`custos directory accounts` lists them");
    return tool_fail(&d, cu_diag_set(&d, CUSTOS_ENOTFOUND, "no such account"));
  }
  json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:[],s:[]}", "id", account, "name",
                          (const char *)sqlite3_column_text(st, 0), "country",
                          (const char *)sqlite3_column_text(st, 1), "sector",
                          (const char *)sqlite3_column_text(st, 2), "units",
                          "contacts");
  sqlite3_finalize(st);
  if (!out)
    return tool_fail(NULL, CUSTOS_ENOMEM);
  if (!tool_g.json)
    printf("%s  %s (%s, %s)\n", account,
           json_string_value(json_object_get(out, "name")),
           json_string_value(json_object_get(out, "country")),
           json_string_value(json_object_get(out, "sector")));
  /* Units depth-first with their depth, then each unit's subscriptions. */
  rc = cu_ws_prepare(
      ws,
      "WITH RECURSIVE tree(id, parent_id, name, depth, path) AS ("
      " SELECT id, parent_id, name, 0, id FROM units"
      "  WHERE account_id = ?1 AND parent_id IS NULL"
      " UNION ALL SELECT u.id, u.parent_id, u.name, t.depth + 1,"
      "  t.path || '/' || u.id FROM units u JOIN tree t ON u.parent_id = t.id"
      "  WHERE t.depth < 64)"
      " SELECT t.id, t.parent_id, t.name, t.depth, s.id, s.name, s.region_id"
      " FROM tree t LEFT JOIN subscriptions s ON s.unit_id = t.id"
      " ORDER BY t.path, s.id",
      &st, &d);
  if (rc != CUSTOS_OK) {
    json_decref(out);
    return tool_fail(&d, rc);
  }
  sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
  json_t *units = json_object_get(out, "units");
  json_t *cur = NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *uid = (const char *)sqlite3_column_text(st, 0);
    int depth = sqlite3_column_int(st, 3);
    const char *sid = (const char *)sqlite3_column_text(st, 4);
    if (!cur || strcmp(json_string_value(json_object_get(cur, "id")), uid)) {
      const char *parent = (const char *)sqlite3_column_text(st, 1);
      cur = json_pack("{s:s,s:s?,s:s,s:i,s:[]}", "id", uid, "parent", parent,
                      "name", (const char *)sqlite3_column_text(st, 2),
                      "depth", depth, "subscriptions");
      json_array_append_new(units, cur);
      if (!tool_g.json)
        printf("%*s- unit %s  %s\n", 2 * depth + 2, "", uid,
               (const char *)sqlite3_column_text(st, 2));
    }
    if (sid) {
      const char *region = (const char *)sqlite3_column_text(st, 6);
      json_array_append_new(json_object_get(cur, "subscriptions"),
                            json_pack("{s:s,s:s,s:s?}", "id", sid, "name",
                                      (const char *)sqlite3_column_text(st, 5),
                                      "region", region));
      if (!tool_g.json)
        printf("%*s  subscription %s  %s  %s\n", 2 * depth + 2, "", sid,
               (const char *)sqlite3_column_text(st, 5),
               region ? region : "-");
    }
  }
  sqlite3_finalize(st);
  rc = cu_ws_prepare(ws,
                     "SELECT name, email, role FROM contacts WHERE"
                     " account_id = ?1 ORDER BY role, email",
                     &st, &d);
  if (rc != CUSTOS_OK) {
    json_decref(out);
    return tool_fail(&d, rc);
  }
  sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *n = (const char *)sqlite3_column_text(st, 0);
    const char *e = (const char *)sqlite3_column_text(st, 1);
    const char *r = (const char *)sqlite3_column_text(st, 2);
    json_array_append_new(json_object_get(out, "contacts"),
                          json_pack("{s:s,s:s,s:s}", "name", n, "email", e,
                                    "role", r));
    if (!tool_g.json)
      printf("  contact %-9s %s <%s>\n", r, n, e);
  }
  sqlite3_finalize(st);
  if (tool_g.json)
    tool_print_json(out);
  else
    json_decref(out);
  return TOOL_EXIT_OK;
}

int tool_directory(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"country", required_argument, NULL, 'c'},
      {"provider", required_argument, NULL, 'p'},
      {0, 0, 0, 0}};
  const char *country = NULL, *provider = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qhc:p:", opts, NULL)) != -1) {
    if (c == 'c')
      country = optarg;
    else if (c == 'p')
      provider = optarg;
    else if (!tool_common_opt(c, help))
      return tool_usage_error("directory", "unknown option");
  }
  if (optind >= argc)
    return tool_usage_error("directory", "missing subcommand");
  const char *sub = argv[optind++];
  int rest = argc - optind;
  custos_diag d;
  custos_diag_clear(&d);
  const cu_catalog *cat = NULL;
  custos_rc rc = cu_catalog_get(&cat, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (strcmp(sub, "regions") == 0 && rest == 0)
    return regions(cat, country, provider);
  if (strcmp(sub, "services") == 0 && rest == 0)
    return services(cat);
  if (strcmp(sub, "resolve") == 0 && rest == 1) {
    const char *name = argv[optind];
    const cu_region *r = cu_catalog_region(cat, name, strlen(name));
    if (!r) {
      cu_diag_field(&d, "region", name, strlen(name));
      cu_diag_hint(&d, "`custos directory regions` lists the known regions; "
                       "prefix the provider (azure:, aws:, gcp:, oci:) when a "
                       "name is shared");
      return tool_fail(&d, cu_diag_set(&d, CUSTOS_ENOTFOUND,
                                       "unknown or ambiguous region"));
    }
    if (tool_g.json)
      tool_print_json(json_pack("{s:s,s:s,s:s,s:s}", "id", r->id, "provider",
                                r->provider, "display_name", r->display_name,
                                "country", r->country));
    else
      printf("%s  %s  %s\n", r->id, r->country, r->display_name);
    return TOOL_EXIT_OK;
  }
  if ((strcmp(sub, "accounts") == 0 && rest == 0) ||
      (strcmp(sub, "show") == 0 && rest == 1)) {
    int code = 0;
    cu_ws *ws = tool_open_ws(&code);
    if (!ws)
      return code;
    code = sub[0] == 'a' ? accounts(ws, country) : show(ws, argv[optind]);
    cu_ws_close(ws);
    return code;
  }
  return tool_usage_error("directory", "unknown subcommand or wrong "
                                       "arguments: '%s'", sub);
}
