/* custos log: the transparency log's key, checkpoints, entries, proofs,
 * offline verification and repair. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tlog/tlog.h"
#include "tool.h"

static const char help[] =
    "usage: custos log SUBCOMMAND [ARGS]\n"
    "\n"
    "The append-only log of every recorded step, as C2SP tlog-tiles under\n"
    "the workspace's log/ folder with signed checkpoints.\n"
    "\n"
    "  key [--origin NAME]          create (once) and print the verifier key\n"
    "  checkpoint                   print the current signed checkpoint\n"
    "  sync                         append pending events, publish a checkpoint\n"
    "  show N                       print entry N\n"
    "  prove N [--size M]           print an offline proof of entry N\n"
    "  consistency A B              print a consistency proof from size A to B\n"
    "  verify [DIR|PROOF] --vkey KEY [--witness KEY]...\n"
    "                               verify a log folder (or a proof) offline\n"
    "  fsck                         repair what a crash left, then sync\n"
    "  append TEXT [--count N] [--batch B] [--case ID]\n"
    "                               record operator notes (log.note events)\n"
    "\n"
    "Run `custos log SUBCOMMAND --help` for details.  --json prints data as\n"
    "JSON.  Exit 5 when a verification fails.\n";

static int fail(custos_diag *d, custos_rc rc) { return tool_fail(d, rc); }

/* Parses options common to every subcommand plus the ones in extra;
 * returns -1 on a usage error (already printed). */
static int parse_opts(const char *name, const char *h, int argc, char **argv,
                      const struct option *extra, size_t nextra,
                      int (*cb)(int c, void *ctx), void *ctx) {
  struct option opts[16] = {TOOL_COMMON_LONGOPTS};
  size_t n = 4;
  for (size_t i = 0; i < nextra && n < 15; i++)
    opts[n++] = extra[i];
  opts[n] = (struct option){0, 0, 0, 0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "w:qho:", opts,
                          NULL)) != -1) {
    if (tool_common_opt(c, h))
      continue;
    if (!cb || cb(c, ctx) != 0) {
      tool_usage_error(name, "unknown option");
      return -1;
    }
  }
  return optind;
}

/* Reads a key given inline or as @FILE. */
static custos_rc read_vkey(const char *arg, cu_log_vkey *k, custos_diag *d) {
  if (arg[0] != '@')
    return cu_log_vkey_parse(arg, strlen(arg), k, d);
  char *text = NULL;
  size_t n = 0;
  custos_rc rc = cu_file_read(arg + 1, 4096, &text, &n, d);
  if (rc != CUSTOS_OK)
    return rc;
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
    n--;
  rc = cu_log_vkey_parse(text, n, k, d);
  cu_free(text);
  return rc;
}

/* ---- key -------------------------------------------------------------- */

static const char help_key[] =
    "usage: custos log key [--origin NAME] [--json]\n"
    "\n"
    "Creates the log's Ed25519 key on first use (keys/log.key, mode 0600)\n"
    "and publishes the empty checkpoint, then prints the verifier key\n"
    "NAME+KEYID+BASE64 to hand to auditors.  The origin (key name) is\n"
    "generated unique per workspace unless --origin gives one; it cannot\n"
    "change later.\n";

static int key_opt(int c, void *ctx) {
  if (c != 'O')
    return -1;
  *(const char **)ctx = optarg;
  return 0;
}

static int cmd_key(int argc, char **argv) {
  const char *origin = NULL;
  static const struct option ex[] = {{"origin", required_argument, NULL, 'O'}};
  int i = parse_opts("log key", help_key, argc, argv, ex, 1, key_opt, &origin);
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (i != argc)
    return tool_usage_error("log key", "unexpected argument '%s'", argv[i]);
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  cu_log_vkey vk;
  char text[512];
  custos_rc rc = cu_log_key_ensure(ws, origin, &vk, &d);
  cu_ws_close(ws);
  if (rc == CUSTOS_OK)
    rc = cu_log_vkey_format(&vk, text, sizeof text);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack("{s:s,s:s}", "vkey", text, "origin", vk.name));
  else
    printf("%s\n", text);
  return TOOL_EXIT_OK;
}

/* ---- checkpoint, sync ------------------------------------------------- */

static const char help_checkpoint[] =
    "usage: custos log checkpoint [--json]\n"
    "\n"
    "Prints the log's current signed checkpoint (C2SP tlog-checkpoint as a\n"
    "signed note), as stored in log/checkpoint.\n";

static json_t *cp_json(const cu_log_checkpoint *cp) {
  char root[48];
  cu_b64_encode(cp->root, 32, root);
  return json_pack("{s:s,s:I,s:s}", "origin", cp->origin, "size",
                   (json_int_t)cp->size, "root", root);
}

static int cmd_checkpoint(int argc, char **argv) {
  int i = parse_opts("log checkpoint", help_checkpoint, argc, argv, NULL, 0,
                     NULL, NULL);
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (i != argc)
    return tool_usage_error("log checkpoint", "unexpected argument");
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  cu_buf note;
  cu_buf_init(&note, CU_LOG_NOTE_MAX);
  cu_log_checkpoint cp;
  custos_rc rc = cu_log_checkpoint_get(ws, &note, &cp, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&note);
    return fail(&d, rc);
  }
  if (tool_g.json) {
    json_t *o = cp_json(&cp);
    if (o)
      json_object_set_new(o, "note", json_string(note.data));
    tool_print_json(o);
  } else {
    fputs(note.data, stdout);
  }
  cu_buf_free(&note);
  return TOOL_EXIT_OK;
}

static const char help_sync[] =
    "usage: custos log sync [--json]\n"
    "\n"
    "Appends every recorded event that is not in the log yet (leaf index =\n"
    "event number), writes its tiles durably and publishes one signed\n"
    "checkpoint per batch.  Commands do this after they commit.\n";

static int print_size(cu_ws *ws, const char *verb) {
  custos_diag d;
  custos_diag_clear(&d);
  cu_log_checkpoint cp;
  custos_rc rc = cu_log_checkpoint_get(ws, NULL, &cp, &d);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  if (tool_g.json)
    tool_print_json(cp_json(&cp));
  else if (!tool_g.quiet)
    printf("%s %" PRIu64 "\n", verb, cp.size);
  return TOOL_EXIT_OK;
}

static int cmd_sync(int argc, char **argv) {
  int i = parse_opts("log sync", help_sync, argc, argv, NULL, 0, NULL, NULL);
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (i != argc)
    return tool_usage_error("log sync", "unexpected argument");
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_log_sync(ws, &d);
  ec = rc == CUSTOS_OK ? print_size(ws, "log size") : fail(&d, rc);
  cu_ws_close(ws);
  return ec;
}

/* ---- append (operator notes) ------------------------------------------ */

static const char help_append[] =
    "usage: custos log append TEXT [--count N] [--batch B] [--case ID]\n"
    "\n"
    "Records TEXT as an operator note (event type log.note) and syncs the\n"
    "log.  --count N records N notes in transactions of B (default 1000),\n"
    "syncing after each and printing `acknowledged SIZE` once the batch is\n"
    "durable under a signed checkpoint (used by load and crash tests).\n";

typedef struct append_opts {
  uint64_t count, batch;
  const char *case_id;
  int bad;
} append_opts;

static int append_opt(int c, void *ctx) {
  append_opts *o = ctx;
  if (c == 'n')
    o->bad |= cu_parse_u64(optarg, &o->count);
  else if (c == 'b')
    o->bad |= cu_parse_u64(optarg, &o->batch);
  else if (c == 'c')
    o->case_id = optarg;
  else
    return -1;
  return 0;
}

static int cmd_append(int argc, char **argv) {
  append_opts o = {1, 1000, NULL, 0};
  static const struct option ex[] = {{"count", required_argument, NULL, 'n'},
                                     {"batch", required_argument, NULL, 'b'},
                                     {"case", required_argument, NULL, 'c'}};
  int i = parse_opts("log append", help_append, argc, argv, ex, 3, append_opt,
                     &o);
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (o.bad || o.batch == 0)
    return tool_usage_error("log append", "--count and --batch take numbers");
  if (i + 1 != argc)
    return tool_usage_error("log append", "give exactly one TEXT");
  const char *text = argv[i];
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = CUSTOS_OK;
  for (uint64_t done = 0; done < o.count && rc == CUSTOS_OK;) {
    rc = cu_ws_begin(ws, &d);
    uint64_t end = done + o.batch < o.count ? done + o.batch : o.count;
    for (; done < end && rc == CUSTOS_OK; done++)
      rc = cu_ws_event_json(ws, "log.note", o.case_id,
                            json_pack("{s:s,s:I}", "text", text, "n",
                                      (json_int_t)done),
                            NULL, &d);
    if (rc == CUSTOS_OK)
      rc = cu_ws_commit(ws, &d);
    else
      cu_ws_rollback(ws);
    if (rc == CUSTOS_OK)
      rc = cu_log_sync(ws, &d);
    if (rc == CUSTOS_OK && o.count > 1) {
      ec = print_size(ws, "acknowledged");
      fflush(stdout);
      if (ec != TOOL_EXIT_OK) {
        cu_ws_close(ws);
        return ec;
      }
    }
  }
  if (rc == CUSTOS_OK && o.count == 1)
    ec = print_size(ws, "acknowledged");
  else
    ec = rc == CUSTOS_OK ? TOOL_EXIT_OK : fail(&d, rc);
  cu_ws_close(ws);
  return ec;
}

/* ---- show ------------------------------------------------------------- */

static const char help_show[] =
    "usage: custos log show N [--json]\n"
    "\n"
    "Prints entry N of the log, checked against its leaf hash: index, time,\n"
    "type, actor, case, payload digest and the payload when it is inline.\n";

static int cmd_show(int argc, char **argv) {
  int i = parse_opts("log show", help_show, argc, argv, NULL, 0, NULL, NULL);
  uint64_t n;
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (i + 1 != argc || cu_parse_u64(argv[i], &n) != 0)
    return tool_usage_error("log show", "give one entry number");
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  cu_buf raw;
  cu_buf_init(&raw, CU_LOG_ENTRY_MAX);
  cu_log_entry e;
  custos_rc rc = cu_log_entry_get(ws, n, &e, &raw, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&raw);
    return fail(&d, rc);
  }
  if (tool_g.json) {
    tool_print_json(cu_log_entry_json(&e));
  } else {
    fwrite(raw.data, 1, raw.len, stdout);
    if (!e.payload || e.payload_size == 0 ||
        e.payload[e.payload_size - 1] != '\n')
      fputc('\n', stdout);
  }
  cu_buf_free(&raw);
  return TOOL_EXIT_OK;
}

/* ---- prove, consistency ----------------------------------------------- */

static const char help_prove[] =
    "usage: custos log prove N [--size M] [-o FILE] [--json]\n"
    "\n"
    "Prints an offline proof that entry N is in the log, in the\n"
    "c2sp.org/tlog-proof@v1 format: the entry (base64, as \"extra\"), its\n"
    "index, the inclusion proof and the signed checkpoint.  Check it with\n"
    "`custos log verify FILE --vkey KEY`.  With --size M, prints (JSON) the\n"
    "inclusion proof in the tree of size M, its root and the consistency\n"
    "proof from M to the signed checkpoint.\n";

typedef struct prove_opts {
  uint64_t size;
  const char *out;
  int bad;
} prove_opts;

static int prove_opt(int c, void *ctx) {
  prove_opts *o = ctx;
  if (c == 's')
    o->bad |= cu_parse_u64(optarg, &o->size);
  else if (c == 'o')
    o->out = optarg;
  else
    return -1;
  return 0;
}

static json_t *proof_json(const cu_log_hash *p, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    char h[48];
    cu_b64_encode(p[i].b, 32, h);
    json_array_append_new(a, json_string(h));
  }
  return a;
}

static int prove_at_size(cu_ws *ws, uint64_t n, uint64_t m) {
  custos_diag d;
  custos_diag_clear(&d);
  cu_log_hash inc[CU_LOG_MAX_PROOF], con[CU_LOG_MAX_PROOF];
  size_t ni = 0, nc = 0;
  uint8_t root_m[32], root_a[32], root_b[32];
  cu_buf note;
  cu_buf_init(&note, CU_LOG_NOTE_MAX);
  cu_log_checkpoint cp;
  custos_rc rc = cu_log_checkpoint_get(ws, &note, &cp, &d);
  if (rc == CUSTOS_OK)
    rc = cu_log_inclusion(ws, n, m, inc, &ni, root_m, &d);
  if (rc == CUSTOS_OK && m < cp.size)
    rc = cu_log_consistency(ws, m, cp.size, con, &nc, root_a, root_b, &d);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&note);
    return fail(&d, rc);
  }
  char r[48];
  cu_b64_encode(root_m, 32, r);
  tool_print_json(json_pack("{s:I,s:I,s:s,s:o,s:o,s:s}", "index",
                            (json_int_t)n, "size", (json_int_t)m, "root", r,
                            "inclusion", proof_json(inc, ni), "consistency",
                            proof_json(con, nc), "checkpoint", note.data));
  cu_buf_free(&note);
  return TOOL_EXIT_OK;
}

static int cmd_prove(int argc, char **argv) {
  prove_opts o = {0, NULL, 0};
  static const struct option ex[] = {{"size", required_argument, NULL, 's'},
                                     {"output", required_argument, NULL, 'o'}};
  int i = parse_opts("log prove", help_prove, argc, argv, ex, 2, prove_opt, &o);
  uint64_t n;
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (o.bad || i + 1 != argc || cu_parse_u64(argv[i], &n) != 0)
    return tool_usage_error("log prove", "give one entry number");
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  if (o.size) {
    ec = prove_at_size(ws, n, o.size);
    cu_ws_close(ws);
    return ec;
  }
  custos_diag d;
  custos_diag_clear(&d);
  cu_buf out;
  cu_buf_init(&out, 2 * CU_LOG_NOTE_MAX);
  custos_rc rc = cu_log_prove(ws, n, &out, &d);
  cu_ws_close(ws);
  if (rc == CUSTOS_OK && o.out)
    rc = cu_file_write_atomic(o.out, out.data, out.len, 0644, &d);
  if (rc == CUSTOS_OK && !o.out) {
    if (tool_g.json)
      tool_print_json(json_pack("{s:I,s:s}", "index", (json_int_t)n, "proof",
                                out.data));
    else
      fputs(out.data, stdout);
  }
  cu_buf_free(&out);
  return rc == CUSTOS_OK ? TOOL_EXIT_OK : fail(&d, rc);
}

static const char help_consistency[] =
    "usage: custos log consistency A B [--json]\n"
    "\n"
    "Prints the RFC 6962 consistency proof from the tree of size A to the\n"
    "tree of size B (B at most the checkpoint's size), with both roots.\n";

static int cmd_consistency(int argc, char **argv) {
  int i = parse_opts("log consistency", help_consistency, argc, argv, NULL, 0,
                     NULL, NULL);
  uint64_t a, b;
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (i + 2 != argc || cu_parse_u64(argv[i], &a) || cu_parse_u64(argv[i + 1], &b))
    return tool_usage_error("log consistency", "give two sizes A B");
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  cu_log_hash p[CU_LOG_MAX_PROOF];
  size_t n = 0;
  uint8_t ra[32], rb[32];
  custos_rc rc = b == 0 ? cu_diag_set(&d, CUSTOS_EINVAL, "size B must be > 0")
                        : cu_log_consistency(ws, a, b, p, &n, ra, rb, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  char r1[48], r2[48];
  cu_b64_encode(ra, 32, r1);
  cu_b64_encode(rb, 32, r2);
  if (tool_g.json) {
    tool_print_json(json_pack("{s:I,s:I,s:s,s:s,s:o}", "size1", (json_int_t)a,
                              "size2", (json_int_t)b, "root1", r1, "root2", r2,
                              "proof", proof_json(p, n)));
  } else {
    printf("size1 %" PRIu64 "\nroot1 %s\nsize2 %" PRIu64 "\nroot2 %s\n", a, r1,
           b, r2);
    for (size_t k = 0; k < n; k++) {
      char h[48];
      cu_b64_encode(p[k].b, 32, h);
      printf("%s\n", h);
    }
  }
  return TOOL_EXIT_OK;
}

/* ---- verify ----------------------------------------------------------- */

static const char help_verify[] =
    "usage: custos log verify [DIR | PROOF] [--vkey KEY] [--witness KEY]...\n"
    "\n"
    "Verifies, offline and without the workspace database, a log folder in\n"
    "C2SP tlog-tiles layout: the checkpoint's signature by KEY (and the\n"
    "cosignature of every --witness), every entry bundle against the\n"
    "level-0 tiles, every higher tile, and the root.  Entries custos cannot\n"
    "decode are verified as plain leaves.  Given a file, verifies it as a\n"
    "c2sp.org/tlog-proof@v1 proof instead.  KEY is NAME+KEYID+BASE64 or\n"
    "@FILE.  Without DIR, verifies this workspace's log with its own key.\n";

typedef struct verify_opts {
  const char *vkey;
  const char *wit[16];
  size_t nwit;
  int bad;
} verify_opts;

static int verify_opt(int c, void *ctx) {
  verify_opts *o = ctx;
  if (c == 'k')
    o->vkey = optarg;
  else if (c == 'W' && o->nwit < 16)
    o->wit[o->nwit++] = optarg;
  else if (c == 'W')
    o->bad = 1;
  else
    return -1;
  return 0;
}

static int verify_proof_file(const char *path, const cu_log_vkey *vk) {
  custos_diag d;
  custos_diag_clear(&d);
  char *text = NULL;
  size_t n = 0;
  custos_rc rc = cu_file_read(path, 4u << 20, &text, &n, &d);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  cu_buf entry;
  cu_buf_init(&entry, CU_LOG_ENTRY_MAX);
  uint64_t index = 0;
  cu_log_checkpoint cp;
  rc = cu_log_proof_verify(text, n, vk, &index, &cp, &entry, &d);
  cu_free(text);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&entry);
    cu_diag_at(&d, path, d.line, 0);
    return fail(&d, rc);
  }
  cu_log_entry e;
  bool ours = cu_log_entry_is_custos((uint8_t *)entry.data, entry.len) &&
              cu_log_entry_decode((uint8_t *)entry.data, entry.len, &e,
                                  NULL) == CUSTOS_OK;
  if (tool_g.json) {
    json_t *o = json_pack("{s:b,s:I,s:o}", "verified", 1, "index",
                          (json_int_t)index, "checkpoint", cp_json(&cp));
    if (o && ours)
      json_object_set_new(o, "entry", cu_log_entry_json(&e));
    tool_print_json(o);
  } else {
    printf("proof verified: entry %" PRIu64 " is in %s at size %" PRIu64 "\n",
           index, cp.origin, cp.size);
    if (ours)
      printf("entry: %s by %s%s%s\n", e.type, e.actor,
             e.case_id[0] ? " in case " : "", e.case_id);
  }
  cu_buf_free(&entry);
  return TOOL_EXIT_OK;
}

static int cmd_verify(int argc, char **argv) {
  verify_opts o = {NULL, {0}, 0, 0};
  static const struct option ex[] = {{"vkey", required_argument, NULL, 'k'},
                                     {"witness", required_argument, NULL, 'W'}};
  int i = parse_opts("log verify", help_verify, argc, argv, ex, 2, verify_opt,
                     &o);
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (o.bad || i + 1 < argc)
    return tool_usage_error("log verify", "give at most one DIR or PROOF and "
                                          "at most 16 witnesses");
  custos_diag d;
  custos_diag_clear(&d);
  cu_log_vkey vk, wit[16];
  char dir[4096];
  custos_rc rc = CUSTOS_OK;
  for (size_t k = 0; k < o.nwit && rc == CUSTOS_OK; k++)
    rc = read_vkey(o.wit[k], &wit[k], &d);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  if (i == argc || !o.vkey) {
    /* The workspace's own log and key. */
    int ec;
    cu_ws *ws = tool_open_ws(&ec);
    if (!ws)
      return ec;
    rc = o.vkey ? read_vkey(o.vkey, &vk, &d) : cu_log_vkey_get(ws, &vk, &d);
    if (rc == CUSTOS_OK && i == argc &&
        cu_ws_path(ws, "log", dir, sizeof dir) != CUSTOS_OK)
      rc = cu_diag_set(&d, CUSTOS_EINVAL, "workspace path too long");
    cu_ws_close(ws);
    if (i < argc)
      snprintf(dir, sizeof dir, "%s", argv[i]);
  } else {
    rc = read_vkey(o.vkey, &vk, &d);
    snprintf(dir, sizeof dir, "%s", argv[i]);
  }
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  struct stat sb;
  if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode))
    return verify_proof_file(dir, &vk);
  cu_log_verify_report rep;
  rc = cu_log_dir_verify(dir, &vk, wit, o.nwit, &rep, &d);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  if (tool_g.json) {
    json_t *j = cp_json(&rep.cp);
    if (j) {
      json_object_set_new(j, "verified", json_true());
      json_object_set_new(j, "custos_entries",
                          json_integer((json_int_t)rep.custos_entries));
      json_object_set_new(j, "opaque_entries",
                          json_integer((json_int_t)rep.opaque_entries));
      json_object_set_new(j, "files", json_integer((json_int_t)rep.tiles));
      json_object_set_new(j, "witnesses", json_integer((json_int_t)o.nwit));
    }
    tool_print_json(j);
  } else {
    char root[48];
    cu_b64_encode(rep.cp.root, 32, root);
    printf("log verified: %s\nsize %" PRIu64 "\nroot %s\n"
           "entries: %" PRIu64 " custos, %" PRIu64 " other (plain leaves)\n"
           "files checked: %" PRIu64 ", witnesses: %zu\n",
           rep.cp.origin, rep.cp.size, root, rep.custos_entries,
           rep.opaque_entries, rep.tiles, o.nwit);
  }
  return TOOL_EXIT_OK;
}

/* ---- fsck ------------------------------------------------------------- */

static const char help_fsck[] =
    "usage: custos log fsck [--json]\n"
    "\n"
    "Repairs what an interrupted write left in log/: removes temporary\n"
    "files, tiles and bundles beyond the signed checkpoint, and partial\n"
    "tiles superseded by full ones; verifies everything committed; then\n"
    "appends the pending events (sync).  A committed file is never\n"
    "rewritten.\n";

static int cmd_fsck(int argc, char **argv) {
  int i = parse_opts("log fsck", help_fsck, argc, argv, NULL, 0, NULL, NULL);
  if (i < 0)
    return TOOL_EXIT_USAGE;
  if (i != argc)
    return tool_usage_error("log fsck", "unexpected argument");
  int ec;
  cu_ws *ws = tool_open_ws(&ec);
  if (!ws)
    return ec;
  custos_diag d;
  custos_diag_clear(&d);
  cu_log_fsck_report rep;
  custos_rc rc = cu_log_key_ensure(ws, NULL, NULL, &d);
  if (rc == CUSTOS_OK)
    rc = cu_log_fsck(ws, &rep, &d);
  if (rc == CUSTOS_OK)
    rc = cu_log_sync(ws, &d);
  cu_log_checkpoint cp;
  if (rc == CUSTOS_OK)
    rc = cu_log_checkpoint_get(ws, NULL, &cp, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack(
        "{s:I,s:I,s:I,s:I,s:I}", "committed_size", (json_int_t)rep.size,
        "temp_removed", (json_int_t)rep.temp, "stray_removed",
        (json_int_t)rep.stray, "obsolete_removed", (json_int_t)rep.obsolete,
        "size", (json_int_t)cp.size));
  else
    printf("log fsck: committed size %" PRIu64 ", removed %" PRIu64
           " temporary, %" PRIu64 " uncommitted and %" PRIu64
           " superseded files; size now %" PRIu64 "\n",
           rep.size, rep.temp, rep.stray, rep.obsolete, cp.size);
  return TOOL_EXIT_OK;
}

int tool_log(int argc, char **argv) {
  static const struct {
    const char *name;
    tool_cmd_fn fn;
  } subs[] = {{"key", cmd_key},         {"checkpoint", cmd_checkpoint},
              {"sync", cmd_sync},       {"append", cmd_append},
              {"show", cmd_show},       {"prove", cmd_prove},
              {"consistency", cmd_consistency},
              {"verify", cmd_verify},   {"fsck", cmd_fsck}};
  if (argc < 2) {
    fputs(help, stderr);
    return TOOL_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(help, stdout);
    return TOOL_EXIT_OK;
  }
  for (size_t k = 0; k < CU_ARRAY_LEN(subs); k++)
    if (strcmp(argv[1], subs[k].name) == 0)
      return subs[k].fn(argc - 1, argv + 1);
  return tool_usage_error("log", "unknown subcommand '%s'", argv[1]);
}
