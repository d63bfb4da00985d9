/*
 * gen/mail: internal mail of the provider's staff, as an mbox (finance)
 * and a maildir with a Maildir++ subfolder (account team).
 */
#include "gen/genInt.h"

custos_rc cu_gen_mail(cu_gen_ctx *c, custos_diag *d) {
  (void)c;
  (void)d;
  return CUSTOS_OK;
}
