/*
 * The boundary inside usage rows: resource names, tag values and the parts
 * of resource ids that customers choose (resource groups and resource
 * names in Azure ids, the resource part of AWS ARNs) go through the
 * workspace's free-text policy before anything is stored.  Provider-made
 * parts (subscription ids, resource types) are kept so that ids stay
 * useful to a reviewer.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledgerInt.h"

/* Appends s[0..n) to out at *o, through the policy when `free`. */
static custos_rc put(cu_ws *ws, cu_free_text_policy p, bool free_text,
                     const char *s, size_t n, char *out, size_t outn,
                     size_t *o) {
  if (!free_text || n == 0) {
    if (*o + n + 1 > outn)
      return CUSTOS_ETOOBIG;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return CUSTOS_OK;
  }
  if (*o >= outn)
    return CUSTOS_ETOOBIG;
  custos_rc rc = cu_boundary_free_text(ws, p, s, n, out + *o, outn - *o);
  if (rc != CUSTOS_OK)
    return rc;
  *o += strlen(out + *o);
  return CUSTOS_OK;
}

static bool seg_is(const char *s, size_t n, const char *w) {
  size_t wl = strlen(w);
  if (n != wl)
    return false;
  for (size_t i = 0; i < n; i++) {
    char a = s[i], b = w[i];
    if (a >= 'A' && a <= 'Z')
      a = (char)(a - 'A' + 'a');
    if (a != b)
      return false;
  }
  return true;
}

custos_rc cu_ledger_resource_id(cu_ws *ws, cu_free_text_policy p,
                                const char *s, size_t n, char *out,
                                size_t outn) {
  size_t o = 0;
  if (outn == 0)
    return CUSTOS_ETOOBIG;
  out[0] = '\0';
  if (p == CU_FREE_TEXT_KEEP || n == 0)
    return put(ws, p, false, s, n, out, outn, &o);
  if (n > 4 && memcmp(s, "arn:", 4) == 0) {
    /* arn:partition:service:region:account:resource; the resource part
     * after its type ("bucket", "instance/i-1", "function:name"). */
    size_t colons = 0, i = 0;
    for (; i < n && colons < 5; i++)
      if (s[i] == ':')
        colons++;
    custos_rc rc = put(ws, p, false, s, i, out, outn, &o);
    if (rc != CUSTOS_OK || i >= n)
      return rc;
    size_t j = i;
    while (j < n && s[j] != '/' && s[j] != ':')
      j++;
    if (j < n) {
      rc = put(ws, p, false, s + i, j + 1 - i, out, outn, &o);
      if (rc != CUSTOS_OK)
        return rc;
      return put(ws, p, true, s + j + 1, n - j - 1, out, outn, &o);
    }
    return put(ws, p, true, s + i, n - i, out, outn, &o);
  }
  if (s[0] == '/') {
    /* /subscriptions/S/resourceGroups/RG/providers/NS/TYPE/NAME[/TYPE/NAME] */
    enum { KEEP, NEXT_FREE, AFTER_PROVIDERS, TYPE, NAME } st = KEEP;
    size_t i = 0;
    while (i < n) {
      size_t j = i + 1;
      while (j < n && s[j] != '/')
        j++;
      const char *seg = s + i + 1;
      size_t sl = j - i - 1;
      bool free_seg = st == NEXT_FREE || st == NAME;
      custos_rc rc = put(ws, p, false, "/", 1, out, outn, &o);
      if (rc == CUSTOS_OK)
        rc = put(ws, p, free_seg, seg, sl, out, outn, &o);
      if (rc != CUSTOS_OK)
        return rc;
      if (st == AFTER_PROVIDERS)
        st = TYPE;
      else if (st == TYPE)
        st = NAME;
      else if (st == NAME)
        st = TYPE;
      else if (seg_is(seg, sl, "resourcegroups"))
        st = NEXT_FREE;
      else if (seg_is(seg, sl, "providers"))
        st = AFTER_PROVIDERS;
      else
        st = KEEP;
      i = j;
    }
    return CUSTOS_OK;
  }
  /* Anything else (instance ids, names): the whole value. */
  return put(ws, p, true, s, n, out, outn, &o);
}

custos_rc cu_ledger_tags(cu_ws *ws, cu_free_text_policy p, const char *s,
                         size_t n, char **out) {
  *out = NULL;
  json_error_t err;
  json_t *obj = NULL;
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i < n && s[i] == '{') {
    obj = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
  } else if (n < (1u << 20)) {
    /* Azure writes tags without their outer braces. */
    char *wrapped = cu_malloc(n + 3);
    if (!wrapped)
      return CUSTOS_ENOMEM;
    wrapped[0] = '{';
    memcpy(wrapped + 1, s, n);
    wrapped[n + 1] = '}';
    wrapped[n + 2] = '\0';
    obj = json_loadb(wrapped, n + 2, JSON_REJECT_DUPLICATES, &err);
    cu_free(wrapped);
  }
  if (obj && !json_is_object(obj)) {
    json_decref(obj);
    obj = NULL;
  }
  json_t *res = json_object();
  if (!res) {
    json_decref(obj);
    return CUSTOS_ENOMEM;
  }
  custos_rc rc = CUSTOS_OK;
  char buf[4096];
  if (!obj) {
    /* Not an object: one opaque value. */
    size_t o = 0;
    buf[0] = '\0';
    if (p == CU_FREE_TEXT_KEEP) {
      char *copy = cu_strndup(s, n);
      if (!copy) {
        rc = CUSTOS_ENOMEM;
        goto fail;
      }
      if (json_object_set_new(res, "", json_stringn(copy, n)) != 0)
        rc = CUSTOS_ENOMEM;
      cu_free(copy);
    } else {
      rc = put(ws, p, true, s, n, buf, sizeof buf, &o);
      if (rc == CUSTOS_OK && json_object_set_new(res, "", json_string(buf)))
        rc = CUSTOS_ENOMEM;
    }
  } else {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
      const char *vs = json_is_string(v) ? json_string_value(v) : NULL;
      char *dumped = NULL;
      size_t vn;
      if (vs) {
        vn = json_string_length(v);
      } else {
        dumped = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!dumped) {
          rc = CUSTOS_ENOMEM;
          goto fail;
        }
        vs = dumped;
        vn = strlen(dumped);
      }
      json_t *nv = NULL;
      if (p == CU_FREE_TEXT_KEEP) {
        nv = json_stringn(vs, vn);
      } else {
        size_t o = 0;
        buf[0] = '\0';
        rc = put(ws, p, true, vs, vn, buf, sizeof buf, &o);
        if (rc == CUSTOS_OK)
          nv = json_string(buf);
      }
      free(dumped);
      if (rc != CUSTOS_OK)
        goto fail;
      if (!nv || json_object_set_new(res, key, nv) != 0) {
        rc = CUSTOS_ENOMEM;
        goto fail;
      }
    }
  }
  if (rc != CUSTOS_OK)
    goto fail;
  {
    char *txt = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
    if (!txt) {
      rc = CUSTOS_ENOMEM;
      goto fail;
    }
    *out = cu_strdup(txt);
    free(txt);
    if (!*out)
      rc = CUSTOS_ENOMEM;
  }
fail:
  json_decref(res);
  json_decref(obj);
  return rc;
}
