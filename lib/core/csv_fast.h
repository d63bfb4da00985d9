/*
 * The CSV reader's fast path (see "the fast path" in csv.c), written once
 * and compiled twice by csv.c: with 16-byte vectors for any x86-64 (or
 * plain C), and with 32-byte ones for CPUs with AVX2, chosen at run time.
 * Before including it csv.c defines FAST_NAME (the function's name),
 * FAST_ATTR (its attributes), FAST_MASKS(p, delim, m) (masks64 of the
 * kind), FAST_PREFIX_XOR (prefix_xor of the kind) and FAST_ENDS(ends, n,
 * s, off) (appends off plus the index of each bit of s to ends[n..] and
 * adds their count to n; it may write up to 64 entries).  Private to
 * csv.c.
 */

/*
 * Parses the plain record at c->pos as parse_record would, and returns
 * true; returns false, having changed nothing the slow path reads, when
 * the record is not plain (see above).
 */
static FAST_ATTR bool FAST_NAME(cu_csv *c) {
  uint8_t *const buf = c->buf;
  const uint8_t delim = (uint8_t)c->o.delim;
  const size_t start = c->pos, end = c->len;
  const size_t max_fields = c->o.max_fields;
  /* A window starts before stop: before end, and no more than
   * max_record + 2 bytes after start. */
  const size_t stop = end - start > c->o.max_record + 3
                          ? start + c->o.max_record + 3
                          : end;
  /* Below top (the room in ends and max_fields, plus 64) the next
   * window's ends need no test. */
  size_t top = c->ecap < max_fields + 64 ? c->ecap : max_fields + 64;
  const bool check_utf8 = c->o.check_utf8;
  /* The windows lie at multiples of 64 from buf (aligned loads in a
   * mapping), the first one holding start, whose bits before start are
   * left out; it is most often the window that held the record before's
   * LF, whose masks the call before kept (see cu_csv's win). */
  size_t base = start & ~(size_t)63, n = 0, rec_end;
  uint64_t from = ~(uint64_t)0 << (start & 63); /* the record's bits */
  uint64_t carry = 0; /* all ones when the window starts in quotes */
  /* the bit after a field's end: the record's start, at first */
  uint64_t prev_struct = (uint64_t)1 << (start & 63);
  uint64_t prev_close = 0;  /* the byte before the window closes a quote */
  size_t utf8_from = start; /* bytes before this are validated */
  masks m;
  if (c->win_ok && c->win_base == base && c->win_buf == buf &&
      c->win_len == end)
    m = c->win;
  else
    FAST_MASKS(buf + base, delim, &m);
  c->win_ok = false;

  for (;;) {
    size_t k = end - base;
    uint64_t valid = k >= 64 ? from : from & (((uint64_t)1 << k) - 1);
    uint64_t q = m.q & valid;
    uint64_t in = carry, close = 0, nl, upto, s;
    if (!(q | carry | prev_close)) {
      /* No quote in the window, none open before it nor closed right
       * before it: nothing is quoted and no quote is out of place, so
       * the parity and the checks are skipped.  Most windows of a
       * FOCUS record are so (its quotes are in the tags, near its end).
       * The bits up to the first LF and it (all when there is none):
       * x ^ (x - 1). */
      nl = m.n & valid;
      upto = (nl ^ (nl - 1)) & valid;
      s = (m.d | m.n) & upto;
    } else {
      in = FAST_PREFIX_XOR(q) ^ carry;
      nl = m.n & ~in & valid;
      upto = (nl ^ (nl - 1)) & valid;
      s = (m.d | m.n) & ~in & upto;
      uint64_t open = q & in;
      close = q & ~in;
      uint64_t fstart = (s << 1) | prev_struct;
      uint64_t after_close = (close << 1) | prev_close;
      /* A quote opens only a field or a doubled quote; after a closing
       * quote comes a quote, the delimiter, LF, or CR and then LF. */
      uint64_t bad = (open & ~(fstart | after_close)) | (m.n & in);
      uint64_t odd = after_close & ~(q | s) & upto;
      /* which is fine only for CR then LF; CRs are looked for only
       * here */
      uint64_t cr = 0;
      for (uint64_t t = odd; t; t &= t - 1) {
        unsigned j = ctz64(t);
        if (buf[base + j] == '\r')
          cr |= (uint64_t)1 << j;
      }
      bad |= odd & ~cr;
      if (cr) {
        uint64_t next_lf =
            (m.n >> 1) | ((uint64_t)(buf[base + 64] == '\n') << 63);
        bad |= cr & ~next_lf;
      }
      if (bad & upto)
        return false;
    }
    uint64_t h = m.h & upto;
    if (h && check_utf8) {
      if (utf8_from > base)
        h &= utf8_from - base >= 64 ? 0 : ~(uint64_t)0 << (utf8_from - base);
      while (h) {
        size_t at = base + ctz64(h);
        if (utf8_run(buf, &at, end, c->eof) != U8_OK)
          return false;
        utf8_from = at;
        h = at - base >= 64 ? 0 : h & (~(uint64_t)0 << (at - base));
      }
    }
    /* A window adds at most 64 ends.  (Keeping only the ends that wanted
     * fields need, and counting the others, cost more than it saved.)
     * The first window's offset wraps (base is before start), and its
     * ends with it back to their offsets from start. */
    if (n + 64 > top) {
      if (n > max_fields || (n + 64 > c->ecap && !ends_reserve(c, n + 64)))
        return false;
      top = c->ecap < max_fields + 64 ? c->ecap : max_fields + 64;
    }
    FAST_ENDS(c->ends, n, s, (uint32_t)(base - start));
    if (nl) {
      rec_end = base + ctz64(nl);
      break;
    }
    carry = 0 - (in >> 63);
    prev_struct = s >> 63;
    prev_close = close >> 63;
    from = ~(uint64_t)0;
    base += 64;
    if (base >= stop)
      return false;
    FAST_MASKS(buf + base, delim, &m);
  }
  if (n > max_fields || fields_reserve(c, n - 1) != CUSTOS_OK)
    return false;
  size_t lf = rec_end;
  if (rec_end > start && buf[rec_end - 1] == '\r')
    rec_end--;
  if (rec_end - start > c->o.max_record)
    return false;
  const uint32_t *const ends = c->ends;
  if (rec_end - start > c->o.max_field) {
    /* Some field may be too long: the slow path says which. */
    for (size_t i = 0, fs = 0; i < n; fs = ends[i++] + 1)
      if (ends[i] - fs > c->o.max_field)
        return false;
  }

  /* The record is plain: make its fields, or the wanted ones.  (The
   * stores into buf may alias anything, hence the copies in locals.)
   * With the last end moved to the record's end (before a CR) and one
   * before the first (its ends[-1], which c->ends has room for), a
   * field's ends need no tests. */
  c->ends[n - 1] = (uint32_t)(rec_end - start);
  c->ends[-1] = UINT32_MAX;
  field *const fields = c->fields;
  const int *const sel = c->sel;
  const size_t nsel = c->nsel;
  if (nsel) {
    /* With raw_fields the fields are only read from buf, so the
     * accessors find them in ends when asked (lazy_field). */
    c->lazy = c->o.raw_fields;
    if (!c->lazy)
      make_selected(c, buf, fields, ends, sel, nsel, start, n);
    c->partial = true;
    goto made;
  }
  for (size_t i = 0, fs = start; i < n; fs = start + ends[i++] + 1)
    make_field(c, buf, &fields[i], fs, start + ends[i]);
  c->partial = false;
  c->lazy = false;
made:
  /* Nothing at or after pos was written, so the masks of the window
   * that holds the LF serve the next record, which starts in it or
   * right after it. */
  c->win = m;
  c->win_base = base;
  c->win_buf = buf;
  c->win_len = end;
  c->win_ok = true;
  c->nf = n;
  c->rec_line = c->line;
  c->rec_start = start;
  c->first_ml = SIZE_MAX;
  c->line++;
  c->pos = lf + 1;
  c->record++;
  return true;
}
