/*
 * File helpers with the durability rules of the workspace: a file is
 * replaced by writing a temporary sibling, fsyncing it, renaming it over the
 * old one and fsyncing the directory, so a crash leaves the old or the new
 * content and never a mix.  fsync errors are reported, never ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static custos_rc io_error(custos_diag *d, const char *path, const char *what,
                          int e) {
  cu_diag_at(d, path, 0, 0);
  cu_diag_hint(d, "check the path, its permissions and free disk space");
  return cu_diag_set(d, e == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO, "%s: %s",
                     what, strerror(e));
}

custos_rc cu_fsync_dir(const char *path, custos_diag *d) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return io_error(d, path, "cannot open directory", errno);
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return io_error(d, path, "cannot fsync directory", e);
  }
  close(fd);
  return CUSTOS_OK;
}

custos_rc cu_file_write_atomic(const char *path, const void *data, size_t n,
                               unsigned mode, custos_diag *d) {
  char tmp[PATH_MAX], dir[PATH_MAX];
  int k = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  if (k < 0 || (size_t)k >= sizeof tmp)
    return cu_diag_set(d, CUSTOS_EINVAL, "path too long: %s", path);
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");

  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
  if (fd < 0)
    return io_error(d, tmp, "cannot create", errno);
  const char *p = data;
  size_t left = n;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      unlink(tmp);
      return io_error(d, tmp, "cannot write", e);
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return io_error(d, tmp, "cannot fsync", e);
  }
  if (close(fd) != 0) {
    int e = errno;
    unlink(tmp);
    return io_error(d, tmp, "cannot close", e);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return io_error(d, path, "cannot rename into place", e);
  }
  return cu_fsync_dir(dir, d);
}

custos_rc cu_file_read(const char *path, size_t max, char **out, size_t *len,
                       custos_diag *d) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return io_error(d, path, "cannot open", errno);
  cu_buf b;
  cu_buf_init(&b, max);
  char chunk[8192];
  size_t n;
  custos_rc rc = CUSTOS_OK;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    rc = cu_buf_append(&b, chunk, n);
    if (rc != CUSTOS_OK)
      break;
  }
  if (rc == CUSTOS_OK && ferror(f))
    rc = io_error(d, path, "read error", EIO);
  fclose(f);
  if (rc == CUSTOS_ETOOBIG) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "the limit is %zu bytes", max);
    cu_diag_set(d, rc, "file is too large");
  } else if (rc == CUSTOS_ENOMEM) {
    cu_diag_set(d, rc, "out of memory reading %s", path);
  }
  if (rc != CUSTOS_OK) {
    cu_buf_free(&b);
    return rc;
  }
  *len = b.len;
  *out = cu_buf_take(&b);
  if (!*out)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory reading %s", path);
  return CUSTOS_OK;
}

custos_rc cu_mkdirs(const char *path, unsigned mode, custos_diag *d) {
  char tmp[PATH_MAX];
  int k = snprintf(tmp, sizeof tmp, "%s", path);
  if (k < 0 || (size_t)k >= sizeof tmp)
    return cu_diag_set(d, CUSTOS_EINVAL, "path too long: %s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
      return io_error(d, tmp, "cannot create directory", errno);
    *p = '/';
  }
  if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
    return io_error(d, tmp, "cannot create directory", errno);
  return CUSTOS_OK;
}
