/* roundtrip.c: libFuzzer target for the property that ties the signer and the verifier together
 * (patchkit): what our signer signs, our verifier passes.
 *
 * One input is a message as qmail-remote reads it from the queue: after the Received field that
 * qmail-queue writes first on every message (so a leading folded line, which the signature fields
 * put in front of it would otherwise absorb, belongs to that field as in a real queue). It is
 * signed as in sign.c
 * (qdk_sign_prepare, qdk_sign_write); the signature fields and the message then go through the
 * verifier as in verify.c (empty DKVERIFY: always annotated). Every dkim= and the domainkeys=
 * result in our Authentication-Results must be "pass"; anything else aborts, which libFuzzer
 * reports as a crash with the input. Inputs whose bytes SMTP would not carry unchanged between
 * the two (a CR, a NUL, no final LF) or that carry signatures of their own are skipped: for
 * those the two ends legitimately see different messages. DNS and keys: fuzz.h. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>
#include <strings.h>
#include <sys/mman.h>
#include "fuzz.h"
#include "substdio.h"
#include "stralloc.h"
#include "qmail.h"
#include "qdkim.h"

/* qmail-queue's own field, in received_setup()'s format */
#define QUEUE_RECEIVED "Received: (qmail 4242 invoked by uid 0); 4 Dec 2026 12:00:00 -0000\n"

static stralloc sigs = {0};
static stralloc queued = {0};
static int bol = 1;
static int dot = 0;

/* the signature fields in qmail's form (LF, no dot stuffing), as qmail-smtpd would queue them */
static QDK_OPRET sigsink(int fd, char *buf, int len)
{
  int i;
  (void) fd;
  for (i = 0; i < len; ++i) {
    char ch = buf[i];
    if (ch == '\r') continue;
    if (bol && ch == '.' && !dot) { dot = 1; continue; }
    dot = 0;
    bol = (ch == '\n');
    if (!stralloc_append(&sigs, &ch)) abort();
  }
  return len;
}

static QDK_OPRET queuesink(int fd, char *buf, int len)
{
  (void) fd;
  if (!stralloc_catb(&queued, buf, (unsigned int) len)) abort();
  return len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void) argc; (void) argv;
  fuzz_load_records();
  unsetenv("RELAYCLIENT");
  unsetenv("DKIMMAXSIGS");
  unsetenv("DKIMDNSBUDGET");
  return 0;
}

static int has(const uint8_t *data, size_t size, const char *word)
{
  size_t n = strlen(word);
  size_t i;
  for (i = 0; i + n <= size; ++i) if (!strncasecmp((const char *) data + i, word, n)) return 1;
  return 0;
}

static int skipped(const uint8_t *data, size_t size)
{
  size_t i;
  if (!size || data[size - 1] != '\n') return 1;
  for (i = 0; i < size; ++i) if (data[i] == '\r' || data[i] == 0) return 1;
  return has(data, size, "dkim-signature") || has(data, size, "domainkey-signature");
}

static void fail(const char *why)
{
  fprintf(stderr, "roundtrip: %s\n--- signatures\n%.*s--- queued\n%.*s\n", why,
          (int) sigs.len, sigs.s, (int) (queued.len > 3000 ? 3000 : queued.len), queued.s);
  abort();
}

/* the results in our Authentication-Results field (the first of the queued message) */
static void check(int dk)
{
  unsigned int end;
  unsigned int i;
  int ndkim = 0;
  int ndk = 0;
  for (end = 0; end + 1 < queued.len; ++end)
    if (queued.s[end] == '\n' && queued.s[end + 1] != ' ' && queued.s[end + 1] != '\t') break;
  for (i = 0; i + 5 < end; ++i) {
    if (!strncmp(queued.s + i, "dkim=", 5)) {
      ++ndkim;
      if (strncmp(queued.s + i + 5, "pass", 4)) fail("a signature of ours does not verify");
    }
    if (i + 11 < end && !strncmp(queued.s + i, "domainkeys=", 11)) {
      ++ndk;
      if (dk && strncmp(queued.s + i + 11, "pass", 4)) fail("our DomainKey-Signature does not verify");
    }
  }
  if (!ndkim || ndk != 1) fail("no results for our signatures");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  substdio ss;
  char buf[1024];
  struct qmail qq;
  int fd;
  size_t off = 0;
  int ours;
  if (size > (1 << 20) || skipped(data, size)) return 0;

  fd = memfd_create("fuzz-message", 0);
  if (fd == -1) abort();
  if (write(fd, QUEUE_RECEIVED, sizeof QUEUE_RECEIVED - 1) != sizeof QUEUE_RECEIVED - 1) abort();
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) abort();
    off += (size_t) w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) != 0) abort();
  close(fd);
  if (qdk_sign_prepare() == -1) return 0;  /* kept in the queue: nothing was sent */
  sigs.len = 0; bol = 1; dot = 0;
  substdio_fdbuf(&ss, sigsink, 1, buf, sizeof buf);
  qdk_sign_write(&ss);
  substdio_flush(&ss);
  if (!sigs.len) return 0;                 /* not ours to sign: no key for the sender */
  ours = 0;
  {
    unsigned int i;
    for (i = 0; i + 20 <= sigs.len; ++i) if (!strncmp(sigs.s + i, "DomainKey-Signature:", 20)) ours = 1;
  }

  queued.len = 0;
  memset(&qq, 0, sizeof qq);
  substdio_fdbuf(&qq.ss, queuesink, -1, qq.buf, sizeof qq.buf);
  setenv("DKVERIFY", "", 1);
  qdkv_start(&qq);
  qmail_puts(&qq, "Received: from unknown (HELO fuzz) (127.0.0.1)\n  by fuzz with SMTP; 4 Dec 2026 12:00:00 -0000\n");
  qmail_put(&qq, sigs.s, (int) sigs.len);
  qmail_puts(&qq, QUEUE_RECEIVED);
  qmail_put(&qq, (char *) data, (int) size);
  qdkv_finish(&qq);
  if (!qq.flagerr) substdio_flush(&qq.ss);
  if (qdkv_reply()) fail(qdkv_reply());
  check(ours);
  return 0;
}
