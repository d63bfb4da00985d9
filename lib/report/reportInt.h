/* report: what the module's files share. */
#ifndef CU_REPORT_INT_H
#define CU_REPORT_INT_H

#include "report.h"

/* Gathers the case's report model (see model.c); caller json_decrefs. */
custos_rc cu_report_model(cu_ws *ws, const char *case_id, json_t **out,
                          custos_diag *d) CUSTOS_WUR;

/* A stacked bar chart as inline SVG: one bar per x label, one colour per
 * series; values[s * nx + x].  Labels are escaped here. */
custos_rc cu_svg_bars(cu_buf *b, const char *title, const char *unit,
                      const char *const *x, size_t nx,
                      const char *const *series, size_t ns,
                      const double *values) CUSTOS_WUR;

/* Appends s with &, <, >, " and ' escaped for HTML. */
custos_rc cu_html_escape(cu_buf *b, const char *s) CUSTOS_WUR;
/* Appends s with | and newlines escaped for a Markdown table cell. */
custos_rc cu_md_cell(cu_buf *b, const char *s) CUSTOS_WUR;

#endif
