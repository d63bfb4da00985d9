/*
 * gen/mail: internal mail among the provider's staff about customers'
 * consumption, contracts and invoices, as an mboxrd file (finance) and a
 * maildir with a Maildir++ subfolder (account team, .Sales).  Threads
 * carry Message-ID/In-Reply-To/References; some subjects are RFC 2047
 * encoded words, some bodies ISO-8859-1, some carry a CSV attachment.
 */
#include <stdio.h>
#include <string.h>

#include "gen/genInt.h"

typedef struct staff {
  const char *name; /* UTF-8 */
  const char *addr;
  const char *title;
} staff;

static const staff people[] = {
    {"Petra Halloran", "petra.halloran@" GEN_STAFF_DOMAIN,
     "Account Executive, Public Sector EMEA"},
    {"Soren Ironwood", "soren.ironwood@" GEN_STAFF_DOMAIN,
     "Technical Account Manager"},
    {"Ren\xc3\xa9" "e Dusollier", "renee.dusollier@" GEN_STAFF_DOMAIN,
     "Billing Analyst, Finance Operations"},
    {"J\xc3\xb6rg Valcourt", "joerg.valcourt@" GEN_STAFF_DOMAIN,
     "Capacity Planning, EU West"},
    {"Malik Oakhurst", "malik.oakhurst@" GEN_STAFF_DOMAIN, "Deal Desk"},
    {"Liora Brightwater", "liora.brightwater@" GEN_STAFF_DOMAIN,
     "Commercial Counsel"},
    {"Finance Operations", "finance-ops@" GEN_STAFF_DOMAIN, "Finance"},
};
enum { P_AE, P_TAM, P_BILL, P_CAP, P_DEAL, P_LEGAL, P_FINOPS };

enum { BOX_FINANCE, BOX_TEAM, BOX_SALES };

typedef struct msg {
  int box;
  int from, to;
  int64_t t;
  const char *subject; /* UTF-8, without "Re: " */
  bool reply;
  bool subj_encoded; /* RFC 2047 B (UTF-8) */
  bool latin1;       /* body as ISO-8859-1, 8bit */
  uint64_t thread, seq;
  const char *body;            /* UTF-8 */
  const char *attach_name;     /* NULL for none */
  const char *attach;          /* text/csv content */
} msg;

typedef struct mail_ctx {
  cu_gen_ctx *c;
  cu_gen_sink mbox;
  uint64_t team_n;
  cu_buf m; /* the message being rendered */
} mail_ctx;

#define MSG_MAX (1u << 20)

static void msgid(const cu_gen_world *w, uint64_t thread, uint64_t seq,
                  char *out, size_t n) {
  uint64_t h = cu_gen_hash(w->seed, GEN_S_MAIL, thread, seq);
  snprintf(out, n, "<%llx.%llu.%llu@mail.%s>",
           (unsigned long long)(h & 0xffffffffffULL),
           (unsigned long long)thread, (unsigned long long)seq,
           GEN_STAFF_DOMAIN);
}

static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed",
                                   "Thu", "Fri", "Sat"};
static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void split_time(int64_t t, int *wd, int *y, int *m, int *d, int *hh,
                       int *mm, int *ss) {
  int32_t days = (int32_t)(t / 86400);
  int64_t sec = t % 86400;
  cu_gen_civil(days, y, m, d);
  *wd = (int)((days + 4) % 7);
  *hh = (int)(sec / 3600);
  *mm = (int)(sec / 60 % 60);
  *ss = (int)(sec % 60);
}

/* UTF-8 to ISO-8859-1 for U+0000..U+00FF (all our text fits). */
static custos_rc put_latin1(cu_buf *b, const char *s) {
  custos_rc rc = CUSTOS_OK;
  for (const unsigned char *p = (const unsigned char *)s;
       *p && rc == CUSTOS_OK; p++) {
    if ((*p == 0xc2 || *p == 0xc3) && p[1]) {
      rc = cu_buf_putc(b, (char)(((*p & 0x03) << 6) | (p[1] & 0x3f)));
      p++;
    } else {
      rc = cu_buf_putc(b, (char)*p);
    }
  }
  return rc;
}

static bool is_ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80)
      return false;
  return true;
}

/* An address header, with the display name as an encoded word when it is
 * not ASCII (Q encoding of ISO-8859-1, as older clients send it). */
static custos_rc put_addr(cu_buf *b, const char *hdr, const staff *p) {
  custos_rc rc = cu_buf_printf(b, "%s: ", hdr);
  if (rc != CUSTOS_OK)
    return rc;
  if (is_ascii(p->name))
    return cu_buf_printf(b, "%s <%s>\r\n", p->name, p->addr);
  rc = cu_buf_puts(b, "=?ISO-8859-1?Q?");
  cu_buf latin;
  cu_buf_init(&latin, 256);
  if (rc == CUSTOS_OK)
    rc = put_latin1(&latin, p->name);
  for (size_t i = 0; rc == CUSTOS_OK && i < latin.len; i++) {
    unsigned char ch = (unsigned char)latin.data[i];
    if (ch == ' ')
      rc = cu_buf_putc(b, '_');
    else if (ch >= 0x80 || ch == '=' || ch == '?' || ch == '_')
      rc = cu_buf_printf(b, "=%02X", ch);
    else
      rc = cu_buf_putc(b, (char)ch);
  }
  cu_buf_free(&latin);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b, "?= <%s>\r\n", p->addr);
  return rc;
}

static custos_rc put_b64_lines(cu_buf *b, const char *data, size_t n) {
  size_t elen = cu_b64_encoded_len(n);
  char *enc = cu_malloc(elen + 1);
  if (!enc)
    return CUSTOS_ENOMEM;
  cu_b64_encode((const uint8_t *)data, n, enc);
  custos_rc rc = CUSTOS_OK;
  for (size_t i = 0; i < elen && rc == CUSTOS_OK; i += 76) {
    size_t k = elen - i < 76 ? elen - i : 76;
    rc = cu_buf_append(b, enc + i, k);
    if (rc == CUSTOS_OK)
      rc = cu_buf_puts(b, "\r\n");
  }
  cu_free(enc);
  return rc;
}

/* Renders m as an RFC 5322 message with CRLF line ends into b. */
static custos_rc render(const cu_gen_world *w, const msg *m, cu_buf *b) {
  int wd, y, mo, d, hh, mi, ss;
  split_time(m->t, &wd, &y, &mo, &d, &hh, &mi, &ss);
  char id[128], parent[128], root[128];
  msgid(w, m->thread, m->seq, id, sizeof id);
  cu_buf_reset(b);
  custos_rc rc = put_addr(b, "From", &people[m->from]);
  if (rc == CUSTOS_OK)
    rc = put_addr(b, "To", &people[m->to]);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
                       wday[wd], d, mon[mo - 1], y, hh, mi, ss);
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(b, "Subject: ");
  if (rc == CUSTOS_OK && m->reply)
    rc = cu_buf_puts(b, "Re: ");
  if (rc == CUSTOS_OK && m->subj_encoded) {
    size_t n = strlen(m->subject);
    char enc[512];
    if (NEVER(cu_b64_encoded_len(n) >= sizeof enc))
      return CUSTOS_EINTERNAL;
    cu_b64_encode((const uint8_t *)m->subject, n, enc);
    rc = cu_buf_printf(b, "=?UTF-8?B?%s?=\r\n", enc);
  } else if (rc == CUSTOS_OK) {
    rc = cu_buf_printf(b, "%s\r\n", m->subject);
  }
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b, "Message-ID: %s\r\n", id);
  if (rc == CUSTOS_OK && m->seq > 0) {
    msgid(w, m->thread, m->seq - 1, parent, sizeof parent);
    msgid(w, m->thread, 0, root, sizeof root);
    rc = cu_buf_printf(b, "In-Reply-To: %s\r\nReferences:", parent);
    for (uint64_t k = 0; rc == CUSTOS_OK && k < m->seq; k++) {
      msgid(w, m->thread, k, parent, sizeof parent);
      rc = cu_buf_printf(b, " %s", parent);
    }
    if (rc == CUSTOS_OK)
      rc = cu_buf_puts(b, "\r\n");
  }
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(b, "MIME-Version: 1.0\r\n");
  const char *charset = m->latin1 ? "ISO-8859-1" : "UTF-8";
  const char *cte = m->latin1 ? "8bit" : (is_ascii(m->body) ? "7bit" : "8bit");
  char boundary[64];
  snprintf(boundary, sizeof boundary, "=_stratus_%llu_%llu",
           (unsigned long long)m->thread, (unsigned long long)m->seq);
  if (rc == CUSTOS_OK && m->attach_name)
    rc = cu_buf_printf(b,
                       "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
                       "\r\nThis is a multi-part message in MIME format.\r\n"
                       "\r\n--%s\r\n",
                       boundary, boundary);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b,
                       "Content-Type: text/plain; charset=%s\r\n"
                       "Content-Transfer-Encoding: %s\r\n\r\n",
                       charset, cte);
  /* Body: LF in the template becomes CRLF. */
  cu_buf body;
  cu_buf_init(&body, MSG_MAX);
  if (rc == CUSTOS_OK)
    rc = m->latin1 ? put_latin1(&body, m->body) : cu_buf_puts(&body, m->body);
  for (size_t i = 0; rc == CUSTOS_OK && i < body.len; i++) {
    if (body.data[i] == '\n')
      rc = cu_buf_putc(b, '\r');
    if (rc == CUSTOS_OK)
      rc = cu_buf_putc(b, body.data[i]);
  }
  cu_buf_free(&body);
  if (rc == CUSTOS_OK && m->attach_name) {
    rc = cu_buf_printf(b,
                       "\r\n--%s\r\n"
                       "Content-Type: text/csv; charset=UTF-8; name=\"%s\"\r\n"
                       "Content-Disposition: attachment; filename=\"%s\"\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\n",
                       boundary, m->attach_name, m->attach_name);
    if (rc == CUSTOS_OK)
      rc = put_b64_lines(b, m->attach, strlen(m->attach));
    if (rc == CUSTOS_OK)
      rc = cu_buf_printf(b, "\r\n--%s--\r\n", boundary);
  }
  return rc;
}

/* Appends the rendered message to the mbox: "From " separator, mboxrd
 * quoting (a body line matching ^>*From  gets one more '>'), LF ends. */
static void mbox_append(mail_ctx *mc, const msg *m) {
  cu_gen_sink *s = &mc->mbox;
  int wd, y, mo, d, hh, mi, ss;
  split_time(m->t, &wd, &y, &mo, &d, &hh, &mi, &ss);
  cu_gen_printf(s, "From %s %s %s %2d %02d:%02d:%02d %04d\n",
                people[m->from].addr, wday[wd], mon[mo - 1], d, hh, mi, ss,
                y);
  const char *p = mc->m.data, *end = mc->m.data + mc->m.len;
  bool in_body = false;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    size_t len = (size_t)(le - p);
    if (len && p[len - 1] == '\r')
      len--;
    if (in_body) {
      size_t k = 0;
      while (k < len && p[k] == '>')
        k++;
      if (len - k >= 5 && memcmp(p + k, "From ", 5) == 0)
        cu_gen_putc(s, '>');
    } else if (len == 0) {
      in_body = true;
    }
    cu_gen_put(s, p, len);
    cu_gen_putc(s, '\n');
    p = nl ? nl + 1 : end;
  }
  cu_gen_putc(s, '\n');
  s->rows++;
}

static custos_rc maildir_write(mail_ctx *mc, const msg *m, custos_diag *d) {
  const cu_gen_world *w = mc->c->w;
  /* Read mail in cur/ with flags, the newest few unread in new/. */
  bool unread = cu_gen_hash(w->seed, GEN_S_MAIL, m->thread, m->seq + 99) %
                    5 == 0;
  char rel[256];
  snprintf(rel, sizeof rel, "mail/account-team/%s%s/%lld.M%lluP%llu.%s%s",
           m->box == BOX_SALES ? ".Sales/" : "", unread ? "new" : "cur",
           (long long)m->t, (unsigned long long)mc->team_n++,
           (unsigned long long)(w->seed % 100000), "mailhost",
           unread ? "" : ":2,S");
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, mc->c->o->out, rel, false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_put(&s, mc->m.data, mc->m.len);
  s.rows = 1;
  return cu_gen_ctx_done(mc->c, &s, d);
}

static custos_rc emit(mail_ctx *mc, const msg *m, custos_diag *d) {
  custos_rc rc = render(mc->c->w, m, &mc->m);
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "cannot render message %llu.%llu",
                       (unsigned long long)m->thread,
                       (unsigned long long)m->seq);
  mc->c->st->messages++;
  if (m->box == BOX_FINANCE) {
    mbox_append(mc, m);
    return CUSTOS_OK;
  }
  return maildir_write(mc, m, d);
}

static int64_t at(int y, int m, int d, int hh, int mm) {
  return cu_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 +
         hh * 3600 + mm * 60;
}

/* The demo story's threads: storage growth in westeurope, speech and
 * translation, the invoices, the renewal and the cyber unit's routine
 * security consumption. */
static custos_rc demo_threads(mail_ctx *mc, custos_diag *d) {
  const cu_gen_world *w = mc->c->w;
  cu_buf b;
  cu_buf_init(&b, MSG_MAX);
  custos_rc rc = CUSTOS_OK;
  char tb_a[32], tb_b[32], tb_c[32];
  cu_gen_fmt_dec(tb_a, sizeof tb_a, cu_gen_demo_storage_gb(w, 6) / 1000, 0);
  cu_gen_fmt_dec(tb_b, sizeof tb_b, cu_gen_demo_storage_gb(w, 12) / 1000, 0);
  cu_gen_fmt_dec(tb_c, sizeof tb_c, cu_gen_demo_storage_gb(w, 16) / 1000, 0);

  /* Thread 1 (account team): capacity. */
  char *t1a = NULL, *t1b = NULL, *t1c = NULL;
  rc = cu_buf_printf(
      &b,
      "Soren,\n\n"
      "From the capacity dashboard: the Arvelian MoD (acct-arv-mod) is now "
      "our\nlargest blob storage tenant in westeurope.  The Signals "
      "Directorate\n(arv-mod-sig) held about %s TB in September 2024 and "
      "about %s TB in\nMarch 2025, nearly all Hot LRS in subscriptions "
      "sig-archive-prod and\nsig-archive-02.\n\n"
      "Can you ask the customer for a forecast?  At this rate we need to "
      "bring\nthe next storage cluster in Amsterdam forward.\n\n"
      "J\xc3\xb6rg\n",
      tb_a, tb_b);
  if (rc == CUSTOS_OK)
    t1a = cu_buf_take(&b);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(
        &b,
        "J\xc3\xb6rg,\n\nAsked them today.  Their IT office only says the "
        "directorate expects\n\"continued growth\" and is not ready to "
        "share workload details, which is\ntheir right.  I will raise a "
        "reservation offer with Petra.\n\n"
        "> From the capacity dashboard: the Arvelian MoD (acct-arv-mod) is "
        "now our\n> largest blob storage tenant in westeurope.\n\nSoren\n");
  if (rc == CUSTOS_OK)
    t1b = cu_buf_take(&b);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(
        &b,
        "Update: the directorate passed %s TB in July 2025.  Capacity is "
        "fine\nuntil Q4 with the new cluster.\n\nJ\xc3\xb6rg\n",
        tb_c);
  if (rc == CUSTOS_OK)
    t1c = cu_buf_take(&b);
  if (rc != CUSTOS_OK || !t1a || !t1b || !t1c) {
    rc = rc != CUSTOS_OK ? rc : CUSTOS_ENOMEM;
    goto fail;
  }
  const char *s1 = "Capacity: Arvelia signals storage growth in West Europe";
  msg th1[] = {
      {BOX_TEAM, P_CAP, P_TAM, at(2025, 3, 18, 8, 42), s1, false, false,
       false, 1, 0, t1a, NULL, NULL},
      {BOX_TEAM, P_TAM, P_CAP, at(2025, 3, 18, 14, 5), s1, true, false,
       false, 1, 1, t1b, NULL, NULL},
      {BOX_TEAM, P_CAP, P_TAM, at(2025, 7, 21, 9, 30), s1, true, false,
       false, 1, 2, t1c, NULL, NULL},
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(th1) && rc == CUSTOS_OK; i++)
    rc = emit(mc, &th1[i], d);
  if (rc != CUSTOS_OK)
    goto fail;

  /* Thread 2 (account team): speech and translation. */
  const char *s2 = "Arvelia MoD: Speech and Translator consumption";
  const char *b2a =
      "Petra,\n\nHeads-up for the QBR.  sig-processing (Signals "
      "Directorate) consumed\nAzure AI Speech (speech to text, standard "
      "audio hours) and Azure AI\nTranslator (text translation, "
      "characters) in westeurope every day since\nMarch 2024.  Speech is "
      "now in the thousands of audio hours a day and\nTranslator in the "
      "hundreds of millions of characters a day, both up about\n12% a "
      "month.  We only see meters and invoices, of course, not what they\n"
      "transcribe.\n\nSoren\n";
  const char *b2b =
      "Thanks Soren.  Legal asked to be kept in the loop on large public "
      "sector\nAI workloads, copying Liora on the next one.\n\nPetra\n";
  msg th2[] = {
      {BOX_TEAM, P_TAM, P_AE, at(2025, 5, 6, 10, 12), s2, false, false, false,
       2, 0, b2a, NULL, NULL},
      {BOX_TEAM, P_AE, P_TAM, at(2025, 5, 6, 16, 40), s2, true, false, false,
       2, 1, b2b, NULL, NULL},
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(th2) && rc == CUSTOS_OK; i++)
    rc = emit(mc, &th2[i], d);
  if (rc != CUSTOS_OK)
    goto fail;

  /* Thread 3 (finance mbox): invoices with a CSV extract; the body quotes
   * a line that starts with "From " (mboxrd). */
  cu_buf_reset(&b);
  rc = cu_buf_puts(&b, "subscriptions,service,region,month,stored_tb\n");
  for (int i = 9; i < CU_GEN_MONTHS && rc == CUSTOS_OK; i++) {
    int y = CU_GEN_FIRST_YEAR, m = CU_GEN_FIRST_MONTH + i;
    y += (m - 1) / 12;
    m = (m - 1) % 12 + 1;
    char tb[32];
    cu_gen_fmt_dec(tb, sizeof tb, cu_gen_demo_storage_gb(w, i) / 100, 1);
    rc = cu_buf_printf(&b, "%s,Azure Blob Storage,westeurope,%04d-%02d,%s\n",
                       "sig-archive-prod+sig-archive-02", y, m,
                       tb);
  }
  char *csv = rc == CUSTOS_OK ? cu_buf_take(&b) : NULL;
  if (!csv) {
    rc = rc != CUSTOS_OK ? rc : CUSTOS_ENOMEM;
    goto fail;
  }
  const char *s3 = "Invoice STR-202506-acct-arv-mod: storage line items";
  const char *b3a =
      "Hello Ren\xc3\xa9" "e,\n\nThe June invoice for acct-arv-mod is up "
      "again on Azure Blob Storage in\nwesteurope.  Extract attached "
      "(stored volume per month, both archive\nsubscriptions).  Can you "
      "confirm the figures before it goes out?\n\n"
      "From our side the usage export looks complete.\n\n"
      "Finance Operations\n";
  const char *b3b =
      "Confirmed, figures match the usage export.  Invoice released "
      "2025-07-03.\nNote: the June export was restated on 2025-07-10 for a "
      "metering\ncorrection unrelated to this customer.\n\n"
      ">From our side the usage export looks complete.\n\n"
      "Gr\xc3\xbc\xc3\x9f" "e,\nRen\xc3\xa9" "e\n";
  msg th3[] = {
      {BOX_FINANCE, P_FINOPS, P_BILL, at(2025, 7, 2, 7, 55), s3, false, false,
       false, 3, 0, b3a, "invoice-extract-acct-arv-mod.csv", csv},
      {BOX_FINANCE, P_BILL, P_FINOPS, at(2025, 7, 2, 15, 20), s3, true, true,
       true, 3, 1, b3b, NULL, NULL},
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(th3) && rc == CUSTOS_OK; i++)
    rc = emit(mc, &th3[i], d);
  cu_free(csv);
  if (rc != CUSTOS_OK)
    goto fail;

  /* Thread 4 (.Sales): reservation offer and renewal. */
  const char *s4 = "Arvelia MoD renewal \xe2\x80\x93 storage reservation offer";
  const char *b4a =
      "Malik,\n\nFor the SGCA-XA-2022-014 renewal: the Signals "
      "Directorate's westeurope\nstorage is the bulk of the account.  "
      "Could deal desk price a 3-year\nstorage reservation for ~5 PB?  "
      "The Cyber Defence Command (Defender for\nCloud, Sentinel, a few "
      "VMs) stays on pay-as-you-go.\n\nPetra\n";
  const char *b4b =
      "Petra, draft pricing by Friday.  Liora needs to review the AUP "
      "annex\nbecause of the public sector terms.\n\nMalik\n";
  msg th4[] = {
      {BOX_SALES, P_AE, P_DEAL, at(2025, 6, 11, 11, 0), s4, false, true,
       false, 4, 0, b4a, NULL, NULL},
      {BOX_SALES, P_DEAL, P_AE, at(2025, 6, 12, 9, 14), s4, true, true, false,
       4, 1, b4b, NULL, NULL},
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(th4) && rc == CUSTOS_OK; i++)
    rc = emit(mc, &th4[i], d);
  if (rc != CUSTOS_OK)
    goto fail;

  /* Thread 5 (account team): the cyber unit's routine consumption. */
  const char *s5 = "Cyber Defence Command: Sentinel workspace in westeurope";
  const char *b5a =
      "Soren,\n\nThe Cyber Defence Command (arv-mod-cyb) added a Microsoft "
      "Sentinel\nworkspace in westeurope in January next to the one in "
      "northeurope\n(cyb-soc-prod).  Defender for Servers node hours are "
      "flat.  Nothing\nunusual; noting it for the account plan.\n\nPetra\n";
  msg th5[] = {
      {BOX_TEAM, P_AE, P_TAM, at(2025, 2, 4, 13, 25), s5, false, false, false,
       5, 0, b5a, NULL, NULL},
  };
  rc = emit(mc, &th5[0], d);

fail:
  cu_free(t1a);
  cu_free(t1b);
  cu_free(t1c);
  cu_buf_free(&b);
  if (rc != CUSTOS_OK && d && d->rc == CUSTOS_OK)
    cu_diag_set(d, rc, "cannot build the demo mail");
  return rc;
}

/* Ordinary threads about other customers' invoices, renewals and
 * consumption. */
static custos_rc ordinary_threads(mail_ctx *mc, custos_diag *d) {
  const cu_gen_world *w = mc->c->w;
  size_t n = 30 + w->nacc / 50;
  cu_gen_rng r;
  cu_gen_rng_init(&r, w->seed, GEN_S_MAIL);
  char subject[256], body[2048], body2[1024], att[512];
  custos_rc rc = CUSTOS_OK;
  for (size_t t = 0; t < n && rc == CUSTOS_OK; t++) {
    size_t a = 1 + cu_gen_rng_below(&r, (uint32_t)(w->nacc - 1));
    const cu_gen_account *ac = &w->acc[a];
    const cu_gen_sub *sb = &w->sub[ac->first_sub];
    int month = (int)cu_gen_rng_below(&r, CU_GEN_MONTHS);
    int y = CU_GEN_FIRST_YEAR, mo = CU_GEN_FIRST_MONTH + month;
    y += (mo - 1) / 12;
    mo = (mo - 1) % 12 + 1;
    int kind = (int)cu_gen_rng_below(&r, 3);
    bool german = cu_gen_rng_below(&r, 6) == 0;
    msg m[2];
    memset(m, 0, sizeof m);
    m[0].thread = m[1].thread = 100 + t;
    m[1].seq = 1;
    m[1].reply = true;
    int ny = mo == 12 ? y + 1 : y, nm = mo == 12 ? 1 : mo + 1;
    m[0].t = at(ny, nm, 2 + (int)cu_gen_rng_below(&r, 20),
                8 + (int)cu_gen_rng_below(&r, 9),
                (int)cu_gen_rng_below(&r, 60));
    m[1].t = m[0].t + 3600 * (1 + (int64_t)cu_gen_rng_below(&r, 30));
    if (kind == 0) {
      m[0].box = m[1].box = BOX_FINANCE;
      m[0].from = P_FINOPS;
      m[0].to = m[1].from = P_BILL;
      m[1].to = P_FINOPS;
      snprintf(subject, sizeof subject,
               german ? "R\xc3\xbc" "ckfrage Rechnung STR-%04d%02d-%s"
                      : "Invoice query STR-%04d%02d-%s",
               y, mo, ac->id);
      snprintf(body, sizeof body,
               "Hello,\n\nThe customer %s (%s) asks about invoice "
               "STR-%04d%02d-%s.\nThey see higher charges on subscription "
               "%s (%s) than expected.\nPlease check against the usage "
               "export for %04d-%02d.\n\nFinance Operations\n",
               ac->name, ac->id, y, mo, ac->id, sb->name, sb->id, y, mo);
      snprintf(body2, sizeof body2,
               "Checked: the charges match the metered usage.  Reply "
               "sent to the customer's\nbilling contact.\n\n%s\n",
               german ? "Gr\xc3\xbc\xc3\x9f" "e, Ren\xc3\xa9" "e"
                      : "Ren\xc3\xa9" "e");
      m[1].latin1 = german;
      m[0].subj_encoded = m[1].subj_encoded = german;
    } else if (kind == 1) {
      m[0].box = m[1].box = BOX_SALES;
      m[0].from = P_AE;
      m[0].to = m[1].from = P_DEAL;
      m[1].to = P_AE;
      snprintf(subject, sizeof subject, "Renewal: %s", ac->name);
      snprintf(body, sizeof body,
               "Malik,\n\n%s (%s, %s) renews in %s %04d.  Current "
               "discount %u%%.\nThey ask for the same terms.  Any "
               "objection?\n\nPetra\n",
               ac->name, ac->id, cu_gen_countries[ac->country].name,
               mon[mo - 1], y + 1, (unsigned)ac->discount);
      snprintf(body2, sizeof body2,
               "No objection, same terms approved.\n\nMalik\n");
      m[0].subj_encoded = m[1].subj_encoded = !is_ascii(ac->name);
    } else {
      m[0].box = m[1].box = BOX_TEAM;
      m[0].from = P_TAM;
      m[0].to = m[1].from = P_AE;
      m[1].to = P_TAM;
      snprintf(subject, sizeof subject, "Consumption review: %s (%s)",
               ac->name, ac->id);
      snprintf(body, sizeof body,
               "Petra,\n\nMonthly review for %s: %u subscription(s), home "
               "region %s.\nConsumption in %04d-%02d was within forecast.  "
               "No action needed.\n\nSoren\n",
               ac->name, (unsigned)ac->nsubs,
               cu_gen_regions[sb->region].id, y, mo);
      snprintf(body2, sizeof body2, "Thanks, noted.\n\nPetra\n");
    }
    m[0].subject = m[1].subject = subject;
    m[0].body = body;
    m[1].body = body2;
    if (kind == 0 && cu_gen_rng_below(&r, 3) == 0) {
      snprintf(att, sizeof att,
               "invoice_id,subscription_id,month,billed_usd\n"
               "STR-%04d%02d-%s,%s,%04d-%02d,%u.%02u\n",
               y, mo, ac->id, sb->id, y, mo,
               100 + cu_gen_rng_below(&r, 90000), cu_gen_rng_below(&r, 100));
      m[0].attach_name = "invoice-extract.csv";
      m[0].attach = att;
    }
    rc = emit(mc, &m[0], d);
    if (rc == CUSTOS_OK)
      rc = emit(mc, &m[1], d);
  }
  return rc;
}

custos_rc cu_gen_mail(cu_gen_ctx *c, custos_diag *d) {
  c->st->phase = "mail";
  mail_ctx mc;
  memset(&mc, 0, sizeof mc);
  mc.c = c;
  cu_buf_init(&mc.m, MSG_MAX);
  custos_rc rc =
      cu_gen_sink_open(&mc.mbox, c->o->out, "mail/finance.mbox", false, d);
  if (rc != CUSTOS_OK)
    goto fail_buf;
  rc = demo_threads(&mc, d);
  if (rc == CUSTOS_OK)
    rc = ordinary_threads(&mc, d);
  if (rc != CUSTOS_OK)
    goto fail_mbox;
  rc = cu_gen_ctx_done(c, &mc.mbox, d);
  cu_buf_free(&mc.m);
  return rc;

fail_mbox:
  cu_gen_sink_abort(&mc.mbox);
fail_buf:
  cu_buf_free(&mc.m);
  return rc;
}
