/* sign.c: libFuzzer target for qmail-remote's signing (patchkit).
 *
 * One input is a message as qmail-remote reads it from the queue on fd 0 (LF line ends; any
 * bytes). It goes through qdk_sign_prepare() (control/dksign, the header scan, the Sender:/From:
 * pick, the 256 KB header rule, the keys, libdkim's and libdomainkeys' signing) and
 * qdk_sign_write(), or qdk_sign_error() on a failure, as in qmail-remote's main(). control/dksign
 * names the RSA key per domain (keys/%/rsa: example.org and its subdomains have one) and the
 * Ed25519 key for every domain (keys/ed25519). DNS is never asked: fuzz.h is linked for the keys.
 *
 * FUZZ_EMIT=1 in the environment: sign the message on stdin once, write the signature fields and
 * the message to stdout as qmail-smtpd would receive them (LF, no dot stuffing), and exit; the
 * seed corpus of the verify target is made this way. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/mman.h>
#include "fuzz.h"
#include "substdio.h"
#include "stralloc.h"
#include "qdkim.h"

static int emit = 0;

/* qdk_sign_write() gives SMTP's form: CRLF, leading dots doubled; FUZZ_EMIT wants qmail's */
static int bol = 1;
static int dot = 0;
static QDK_OPRET sink(int fd, char *buf, int len)
{
  int i;
  (void) fd;
  if (!emit) return len;
  for (i = 0; i < len; ++i) {
    char ch = buf[i];
    if (ch == '\r') continue;
    if (bol && ch == '.' && !dot) { dot = 1; continue; }
    dot = 0;
    bol = (ch == '\n');
    if (write(1, &ch, 1) != 1) return -1;
  }
  return len;
}

static int message_on_fd0(const uint8_t *data, size_t size)
{
  int fd = memfd_create("fuzz-message", 0);
  size_t off = 0;
  if (fd == -1) { perror("memfd_create"); abort(); }
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) { perror("write"); abort(); }
    off += (size_t) w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) != 0) { perror("fd 0"); abort(); }
  close(fd);
  return 0;
}

/* 0 signed (or nothing to sign), -1 a signing failure (the message would stay queued: Z) */
static int one(const uint8_t *data, size_t size)
{
  substdio ss;
  char buf[1024];
  message_on_fd0(data, size);
  if (qdk_sign_prepare() == -1) {
    char *e = qdk_sign_error();
    if (emit) fprintf(stderr, "Z%s\n", e);
    return -1;
  }
  substdio_fdbuf(&ss, sink, 1, buf, sizeof buf);
  qdk_sign_write(&ss);
  substdio_flush(&ss);
  return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void) argc; (void) argv;
  fuzz_load_records(); /* the keys must be there */
  if (getenv("FUZZ_EMIT")) {
    stralloc in = {0};
    char buf[8192];
    ssize_t r;
    emit = 1;
    while ((r = read(0, buf, sizeof buf)) > 0)
      if (!stralloc_catb(&in, buf, (unsigned int) r)) abort();
    if (r < 0) { perror("read"); exit(2); }
    if (one((const uint8_t *) in.s, in.len) == -1) exit(1);
    bol = 1; dot = 0;
    if (write(1, in.s, in.len) != (ssize_t) in.len) exit(2);
    exit(0);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > (1 << 20)) return 0;
  one(data, size);
  return 0;
}
