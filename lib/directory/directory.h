/*
 * directory: who the customers are.  Accounts (the customer organisation,
 * its country and sector), units (a tree of any depth), subscriptions (under
 * a unit, with a home region) and contacts for notices; and the catalogue of
 * regions (with their physical country and aliases) and of FOCUS service
 * categories that every other module resolves names against.
 */
#ifndef CU_DIRECTORY_H
#define CU_DIRECTORY_H

#include "boundary/boundary.h"
#include "store/store.h"

/* ---- catalogue -------------------------------------------------------- */

typedef struct cu_region {
  const char *id;           /* canonical, "azure:westeurope" */
  const char *provider;     /* "azure", "aws", "gcp", "oci" */
  const char *native;       /* "westeurope" */
  const char *display_name; /* "West Europe" */
  char country[3];          /* ISO 3166-1 alpha-2 of the datacentres */
} cu_region;

typedef struct cu_catalog cu_catalog;

/*
 * The catalogue compiled into the binary (data/regions.csv, services.csv,
 * service_names.csv).  Parsed once per process on first use and shared;
 * the returned pointer stays valid until process exit.  Not thread-safe on
 * the first call.
 */
custos_rc cu_catalog_get(const cu_catalog **out, custos_diag *d) CUSTOS_WUR;

/*
 * Resolves any alias of a region (canonical id, native id, display name,
 * short code; case, spaces, '-' and '_' ignored) to its region, or NULL.
 * A native id shared by two providers resolves only with its prefix.
 */
const cu_region *cu_catalog_region(const cu_catalog *cat, const char *s,
                                   size_t n);

size_t cu_catalog_nregions(const cu_catalog *cat);
const cu_region *cu_catalog_region_at(const cu_catalog *cat, size_t i);

/* Whether (category, subcategory) is a FOCUS 1.2 pair; subcategory may be
 * NULL to check the category alone. */
bool cu_catalog_category_valid(const cu_catalog *cat, const char *category,
                               const char *subcategory);

/* The FOCUS category and subcategory of a known service name (as billing
 * exports write it), or false. */
bool cu_catalog_service(const cu_catalog *cat, const char *service_name,
                        const char **category, const char **subcategory);

/* Iterates the FOCUS (category, subcategory) pairs. */
size_t cu_catalog_ncategories(const cu_catalog *cat);
void cu_catalog_category_at(const cu_catalog *cat, size_t i,
                            const char **category, const char **subcategory);

/* Writes the catalogue's regions into the workspace tables `regions` and
 * `region_aliases` when the compiled catalogue differs from the one the
 * workspace holds.  Opens its own transaction. */
custos_rc cu_catalog_sync(cu_ws *ws, custos_diag *d) CUSTOS_WUR;

/* ---- directory ingest ------------------------------------------------- */

typedef struct cu_dir_stats {
  int64_t countries, accounts, units, subscriptions, contacts; /* rows */
  int64_t files, skipped; /* files ingested; files already ingested */
} cu_dir_stats;

/*
 * Ingests directory files (CSV with one of the headers of docs/formats.md,
 * or JSON with arrays "countries", "accounts", "units", "subscriptions",
 * "contacts") as
 * one all-or-nothing change: every file is registered as a source of class
 * directory with custodian, and either all rows of all files are stored or,
 * on the first error, nothing is (the workspace is unchanged) and diag names
 * the file, line, column, field and value.  A file whose SHA-256 was already
 * ingested is skipped and counted in stats->skipped.  Rows whose id exists
 * from an earlier source replace it (a newer export).
 */
custos_rc cu_dir_ingest(cu_ws *ws, const char *const *paths, size_t npaths,
                        const char *custodian, cu_dir_stats *stats,
                        custos_diag *d) CUSTOS_WUR;

#endif
