/*
 * Inline SVG charts and escaping for the report.  Charts are drawn from
 * numbers in the report model; floating point is used only for positions
 * on the page, never for amounts that are stored or compared.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reportInt.h"

custos_rc cu_html_escape(cu_buf *b, const char *s) {
  custos_rc rc = CUSTOS_OK;
  for (; rc == CUSTOS_OK && s && *s; s++) {
    switch (*s) {
    case '&':
      rc = cu_buf_puts(b, "&amp;");
      break;
    case '<':
      rc = cu_buf_puts(b, "&lt;");
      break;
    case '>':
      rc = cu_buf_puts(b, "&gt;");
      break;
    case '"':
      rc = cu_buf_puts(b, "&quot;");
      break;
    case '\'':
      rc = cu_buf_puts(b, "&#39;");
      break;
    default:
      rc = cu_buf_putc(b, *s);
    }
  }
  return rc;
}

custos_rc cu_md_cell(cu_buf *b, const char *s) {
  custos_rc rc = CUSTOS_OK;
  for (; rc == CUSTOS_OK && s && *s; s++) {
    if (*s == '|')
      rc = cu_buf_puts(b, "\\|");
    else if (*s == '\n' || *s == '\r')
      rc = cu_buf_putc(b, ' ');
    else
      rc = cu_buf_putc(b, *s);
  }
  return rc;
}

static const char *const palette[] = {"#2b6cb0", "#c05621", "#2f855a",
                                      "#6b46c1", "#b7791f", "#c53030",
                                      "#319795", "#4a5568"};

/* A round number at or above v for the axis. */
static double nice_max(double v) {
  if (v <= 0)
    return 1;
  double p = pow(10, floor(log10(v)));
  double m = v / p;
  double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
  return n * p;
}

custos_rc cu_svg_bars(cu_buf *b, const char *title, const char *unit,
                      const char *const *x, size_t nx,
                      const char *const *series, size_t ns,
                      const double *values) {
  const double W = 860, H = 320, left = 70, right = 20, top = 40,
               bottom = 60;
  double max = 0;
  for (size_t i = 0; i < nx; i++) {
    double sum = 0;
    for (size_t s = 0; s < ns; s++)
      sum += values[s * nx + i] > 0 ? values[s * nx + i] : 0;
    if (sum > max)
      max = sum;
  }
  max = nice_max(max);
  double pw = W - left - right, ph = H - top - bottom;
  double bw = nx ? pw / (double)nx : pw;
  custos_rc rc = cu_buf_printf(
      b,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
      "role=\"img\" class=\"chart\"><title>",
      W, H + 22.0 * (double)((ns + 3) / 4));
  if (rc == CUSTOS_OK)
    rc = cu_html_escape(b, title);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b,
                       "</title><text x=\"%.0f\" y=\"22\" class=\"ct\">",
                       left);
  if (rc == CUSTOS_OK)
    rc = cu_html_escape(b, title);
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(b, " (");
  if (rc == CUSTOS_OK)
    rc = cu_html_escape(b, unit);
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(b, ")</text>");
  /* grid and y labels */
  for (int g = 0; rc == CUSTOS_OK && g <= 4; g++) {
    double y = top + ph - ph * g / 4.0;
    rc = cu_buf_printf(b,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "class=\"grid\"/><text x=\"%.1f\" y=\"%.1f\" "
                       "class=\"yl\">%.*f</text>",
                       left, y, W - right, y, left - 6, y + 4,
                       max >= 40 ? 0 : 2, max * g / 4.0);
  }
  for (size_t i = 0; rc == CUSTOS_OK && i < nx; i++) {
    double base = 0;
    for (size_t s = 0; rc == CUSTOS_OK && s < ns; s++) {
      double v = values[s * nx + i];
      if (v <= 0)
        continue;
      double h = ph * v / max;
      double y = top + ph - ph * base / max - h;
      rc = cu_buf_printf(b,
                         "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                         "height=\"%.1f\" fill=\"%s\"><title>",
                         left + bw * (double)i + bw * 0.1, y, bw * 0.8, h,
                         palette[s % CU_ARRAY_LEN(palette)]);
      if (rc == CUSTOS_OK)
        rc = cu_html_escape(b, series[s]);
      if (rc == CUSTOS_OK)
        rc = cu_buf_puts(b, " ");
      if (rc == CUSTOS_OK)
        rc = cu_html_escape(b, x[i]);
      if (rc == CUSTOS_OK)
        rc = cu_buf_printf(b, ": %.6g</title></rect>", v);
      base += v;
    }
    if (rc == CUSTOS_OK && (nx <= 12 || i % 2 == 0)) {
      rc = cu_buf_printf(b,
                         "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\" "
                         "transform=\"rotate(-45 %.1f %.1f)\">",
                         left + bw * ((double)i + 0.5), top + ph + 14,
                         left + bw * ((double)i + 0.5), top + ph + 14);
      if (rc == CUSTOS_OK)
        rc = cu_html_escape(b, x[i]);
      if (rc == CUSTOS_OK)
        rc = cu_buf_puts(b, "</text>");
    }
  }
  for (size_t s = 0; rc == CUSTOS_OK && s < ns; s++) {
    double lx = left + 200.0 * (double)(s % 4);
    double ly = H + 10 + 22.0 * (double)(s / 4);
    rc = cu_buf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" "
                       "height=\"12\" fill=\"%s\"/><text x=\"%.1f\" "
                       "y=\"%.1f\" class=\"lg\">",
                       lx, ly - 10, palette[s % CU_ARRAY_LEN(palette)],
                       lx + 18, ly);
    if (rc == CUSTOS_OK)
      rc = cu_html_escape(b, series[s]);
    if (rc == CUSTOS_OK)
      rc = cu_buf_puts(b, "</text>");
  }
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(b, "</svg>\n");
  return rc;
}
