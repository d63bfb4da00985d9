/*
 * Document ingest: text, Markdown, HTML and PDF files, each one source of
 * class document, contract or invoice.  libmagic decides the type from the
 * bytes, never from the name; a type custos cannot read is still kept as a
 * record (flag raw, no text) so that its custody is on the record.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <magic.h>
#include <poppler.h>

#include "records_int.h"

typedef struct dctx {
  cu_ws *ws;
  const cu_rec_opts *o;
  cu_rec_stats *st;
  magic_t magic;
  cu_buf file;
  char *scratch;
  size_t cap;
} dctx;

/* Title of a Markdown text: its first "# " heading. */
static char *md_title(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const char *lf = memchr(s + i, '\n', n - i);
    size_t e = lf ? (size_t)(lf - s) : n;
    if (e - i > 2 && s[i] == '#' && s[i + 1] == ' ')
      return cu_strndup(s + i + 2, e - i - 2 > 512 ? 512 : e - i - 2);
    i = e + 1;
  }
  return NULL;
}

static char *html_title(const char *s, size_t n) {
  const char *t = g_strstr_len(s, (gssize)n, "<title>");
  if (!t)
    t = g_strstr_len(s, (gssize)n, "<TITLE>");
  if (!t)
    return NULL;
  t += 7;
  const char *e = g_strstr_len(t, (gssize)(n - (size_t)(t - s)), "</");
  if (!e || e - t > 512)
    return NULL;
  return cu_strndup(t, (size_t)(e - t));
}

/* poppler-glib, loaded the first time a PDF is read rather than linked:
 * with its dependencies it is some fifty shared libraries, which every
 * custos command loaded at start-up (about 10 ms of a 34 ms `custos
 * search`) although only document ingest reads PDFs.  CU_POPPLER_SONAME
 * comes from the library the build found. */
static struct {
  PopplerDocument *(*doc_new)(GBytes *, const char *, GError **);
  gchar *(*title)(PopplerDocument *);
  GDateTime *(*created)(PopplerDocument *);
  int (*n_pages)(PopplerDocument *);
  PopplerPage *(*page)(PopplerDocument *, int);
  char *(*page_text)(PopplerPage *);
  bool ok;
} pdf;
static pthread_once_t pdf_once = PTHREAD_ONCE_INIT;

static void pdf_load(void) {
  void *h = dlopen(CU_POPPLER_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return;
  /* POSIX guarantees that a function's address survives this copy */
  *(void **)&pdf.doc_new = dlsym(h, "poppler_document_new_from_bytes");
  *(void **)&pdf.title = dlsym(h, "poppler_document_get_title");
  *(void **)&pdf.created = dlsym(h, "poppler_document_get_creation_date_time");
  *(void **)&pdf.n_pages = dlsym(h, "poppler_document_get_n_pages");
  *(void **)&pdf.page = dlsym(h, "poppler_document_get_page");
  *(void **)&pdf.page_text = dlsym(h, "poppler_page_get_text");
  pdf.ok = pdf.doc_new && pdf.title && pdf.created && pdf.n_pages &&
           pdf.page && pdf.page_text;
}

/* Text of a PDF, page by page; false when poppler cannot open it. */
static bool pdf_text(const char *data, size_t len, cu_rec_msg *m,
                     char **title) {
  GBytes *bytes = g_bytes_new_static(data, len);
  GError *err = NULL;
  PopplerDocument *doc = pdf.doc_new(bytes, NULL, &err);
  g_bytes_unref(bytes);
  if (!doc) {
    g_clear_error(&err);
    return false;
  }
  char *t = pdf.title(doc);
  if (t && *t)
    *title = cu_strdup(t);
  g_free(t);
  GDateTime *dt = pdf.created(doc);
  if (dt) {
    m->date = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
  }
  int pages = pdf.n_pages(doc);
  bool fallback = false;
  for (int i = 0; i < pages && m->body.len < m->body.max; i++) {
    PopplerPage *p = pdf.page(doc, i);
    if (!p)
      continue;
    char *text = pdf.page_text(p);
    custos_rc rc = text ? cu_rec_to_utf8(text, strlen(text), "utf-8",
                                         &m->body, &fallback)
                        : CUSTOS_OK;
    /* a page break; at the text cap it is simply left out */
    if (rc == CUSTOS_OK && m->body.len < m->body.max)
      rc = cu_buf_putc(&m->body, '\n');
    if (rc != CUSTOS_OK)
      m->flags |= CU_REC_TEXT_CAPPED;
    g_free(text);
    g_object_unref(p);
  }
  g_object_unref(doc);
  return true;
}

/* Builds the record of one document from its bytes and type. */
static custos_rc doc_parse(dctx *x, const char *path, const char *type,
                           bool truncated, const char *sha, int64_t mtime,
                           cu_rec_msg *m) {
  memset(m, 0, sizeof *m);
  cu_buf_init(&m->body, CU_REC_MAX_TEXT);
  cu_buf_init(&m->attach_text, 16);
  snprintf(m->content_id, sizeof m->content_id, "%s", sha);
  m->date = mtime;
  const char *data = x->file.data ? x->file.data : "";
  size_t len = x->file.len;
  char *title = NULL;
  bool fallback = false;
  custos_rc rc = CUSTOS_OK;
  if (truncated)
    m->flags |= CU_REC_TRUNCATED;
  if (strcmp(type, "text/html") == 0) {
    cu_buf tmp;
    cu_buf_init(&tmp, CU_REC_MAX_TEXT);
    rc = cu_rec_to_utf8(data, len, NULL, &tmp, &fallback);
    if (rc == CUSTOS_OK && tmp.len) {
      title = html_title(tmp.data, tmp.len);
      rc = cu_rec_html_text(tmp.data, tmp.len, &m->body);
    }
    cu_buf_free(&tmp);
  } else if (strncmp(type, "text/", 5) == 0) {
    rc = cu_rec_to_utf8(data, len, NULL, &m->body, &fallback);
    if (rc == CUSTOS_OK && m->body.len)
      title = md_title(m->body.data, m->body.len);
  } else if (strcmp(type, "application/pdf") == 0) {
    pthread_once(&pdf_once, pdf_load);
    if (!pdf.ok)
      return CUSTOS_EUNSUPPORTED; /* the caller names the file */
    if (!pdf_text(data, len, m, &title))
      m->flags |= CU_REC_RAW;
  } else {
    m->flags |= CU_REC_RAW; /* kept for custody, no text */
  }
  if (fallback)
    m->flags |= CU_REC_CHARSET;
  if (rc != CUSTOS_OK)
    return rc;
  if (!title) {
    const char *base = strrchr(path, '/');
    title = cu_strdup(base ? base + 1 : path);
  }
  m->subject = title;
  m->from = cu_strdup("");
  m->to = cu_strdup("");
  m->message_id = cu_strdup("");
  m->in_reply_to = cu_strdup("");
  m->refs = cu_strdup("");
  if (!m->subject || !m->from || !m->to || !m->message_id ||
      !m->in_reply_to || !m->refs)
    return CUSTOS_ENOMEM;
  if (!m->body.data)
    rc = cu_buf_puts(&m->body, "");
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&m->attach_text, "");
  return rc;
}

/* One document file: its own source, registered, stored and completed in
 * one transaction. */
static custos_rc one_doc(dctx *x, const char *path, custos_diag *d) {
  char sha[2 * CU_SHA256_LEN + 1], why[256];
  uint64_t total = 0;
  custos_rc rc = cu_rec_read_file(path, x->cap, &x->file, x->scratch, sha,
                                  &total, why, sizeof why);
  if (rc != CUSTOS_OK) {
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, rc, "%s", why);
  }
  struct stat sb;
  int64_t mtime = stat(path, &sb) == 0 ? (int64_t)sb.st_mtime : 0;
  const char *type = magic_buffer(x->magic, x->file.data ? x->file.data : "",
                                  x->file.len);
  if (!type)
    type = "application/octet-stream";
  char typebuf[128];
  snprintf(typebuf, sizeof typebuf, "%s", type);

  rc = cu_ws_begin(x->ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_source src;
  int64_t existing = 0;
  cu_rec_writer *w = NULL;
  cu_rec_msg m;
  memset(&m, 0, sizeof m);
  rc = cu_source_register_digest(x->ws, x->o->cls, x->o->custodian, path, sha,
                                 total, &src, &existing, d);
  if (rc == CUSTOS_EEXIST) {
    x->st->skipped++;
    cu_ws_rollback(x->ws);
    return CUSTOS_OK;
  }
  if (rc != CUSTOS_OK)
    goto fail;
  rc = doc_parse(x, path, typebuf, total > x->file.len, sha, mtime, &m);
  if (rc == CUSTOS_EUNSUPPORTED) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "install Debian's libpoppler-glib8 (scripts/install-deps "
                    "does), then ingest again");
    cu_diag_set(d, rc, "cannot load %s to read this PDF", CU_POPPLER_SONAME);
    goto fail;
  }
  if (rc != CUSTOS_OK) {
    cu_diag_set(d, rc, "out of memory reading a document");
    goto fail;
  }
  rc = cu_rec_writer_open(x->ws, &w, d);
  if (rc != CUSTOS_OK)
    goto fail;
  cu_rec_item it = {"document", typebuf, &m, sha, total, src.id, "", 0, total};
  bool dup = false;
  rc = cu_rec_writer_put(w, &it, &dup, d);
  cu_rec_writer_close(w);
  if (rc != CUSTOS_OK)
    goto fail;
  src.expected = src.accepted = 1;
  rc = cu_source_complete(x->ws, &src, d);
  if (rc != CUSTOS_OK)
    goto fail;
  rc = cu_ws_commit(x->ws, d);
  if (rc != CUSTOS_OK)
    goto fail;
  x->st->containers++;
  x->st->expected++;
  x->st->accepted++;
  x->st->bytes += (int64_t)total;
  x->st->duplicates += dup;
  x->st->raw += (m.flags & CU_REC_RAW) != 0;
  if (x->o->progress)
    x->o->progress(x->o->progress_ud, x->st, path);
  cu_rec_msg_free(&m);
  return CUSTOS_OK;
fail:
  cu_rec_msg_free(&m);
  cu_ws_rollback(x->ws);
  return rc;
}

static custos_rc walk_docs(dctx *x, const char *path, int depth,
                           custos_diag *d) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, errno == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO,
                       "cannot read: %s", strerror(errno));
  }
  if (S_ISREG(sb.st_mode))
    return one_doc(x, path, d);
  if (!S_ISDIR(sb.st_mode) || depth > 64)
    return CUSTOS_OK;
  struct dirent **list = NULL;
  int n = scandir(path, &list, NULL, alphasort);
  if (n < 0) {
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, CUSTOS_EIO, "cannot read folder: %s",
                       strerror(errno));
  }
  custos_rc rc = CUSTOS_OK;
  for (int i = 0; i < n; i++) {
    char sub[PATH_MAX];
    int k = snprintf(sub, sizeof sub, "%s/%s", path, list[i]->d_name);
    if (rc == CUSTOS_OK && list[i]->d_name[0] != '.' && k > 0 &&
        (size_t)k < sizeof sub)
      rc = walk_docs(x, sub, depth + 1, d);
    free(list[i]); /* scandir allocates with malloc */
  }
  free(list);
  return rc;
}

custos_rc cu_rec_ingest_docs(cu_ws *ws, const char *const *paths, size_t n,
                             const cu_rec_opts *o, cu_rec_stats *st,
                             custos_diag *d) {
  if (o->cls != CU_CLASS_DOCUMENT && o->cls != CU_CLASS_CONTRACT &&
      o->cls != CU_CLASS_INVOICE) {
    cu_diag_hint(d, "use --class document, contract or invoice");
    return cu_diag_set(d, CUSTOS_EINVAL, "documents need a document class");
  }
  dctx x;
  memset(&x, 0, sizeof x);
  x.ws = ws;
  x.o = o;
  x.st = st;
  x.cap = o->max_message ? o->max_message : CU_REC_MAX_MESSAGE;
  cu_buf_init(&x.file, x.cap);
  custos_rc rc = CUSTOS_OK;
  x.scratch = cu_malloc(65536);
  if (!x.scratch) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
    goto fail;
  }
  x.magic = magic_open(MAGIC_MIME_TYPE);
  if (!x.magic || magic_load(x.magic, NULL) != 0) {
    cu_diag_hint(d, "install libmagic's database (Debian: libmagic-mgc)");
    rc = cu_diag_set(d, CUSTOS_EIO, "cannot load the file type database");
    goto fail;
  }
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++)
    rc = walk_docs(&x, paths[i], 0, d);
fail:
  if (x.magic)
    magic_close(x.magic);
  cu_free(x.scratch);
  cu_buf_free(&x.file);
  return rc;
}
