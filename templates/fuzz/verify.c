/* verify.c: libFuzzer target for qmail-smtpd's DKIM/DomainKeys verification (patchkit).
 *
 * One input is the message as qmail-smtpd's blast() hands it to the queue (LF line ends, dots
 * unstuffed; any bytes). It goes through qdkv_start(), the queue writer our code diverts,
 * qdkv_finish() and qdkv_reply() exactly as in qmail-smtpd's smtp_data(), twice: with the
 * recommended DKVERIFY (verdicts: the reject and defer paths) and with an empty DKVERIFY (always
 * annotated: Authentication-Results and the removal of forged ones). DNS: fuzz.h.
 *
 * FUZZ_SHOW=1 in the environment: what would be queued (or the reply) goes to stderr, so a test
 * can see a seed's verdict (that the canned key reaches the crypto path). */
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>
#include "fuzz.h"
#include "substdio.h"
#include "stralloc.h"
#include "qmail.h"
#include "qdkim.h"

#ifndef FUZZ_DKVERIFY
#define FUZZ_DKVERIFY "DEGIJKfh,CGHIJMQRkl"
#endif

static int show = 0;

static QDK_OPRET sink(int fd, char *buf, int len)
{
  (void) fd;
  if (show) if (write(2, buf, (size_t) len) == -1) return -1;
  return len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void) argc; (void) argv;
  fuzz_load_records();
  show = getenv("FUZZ_SHOW") != 0;
  unsetenv("RELAYCLIENT");
  unsetenv("DKIMMAXSIGS");
  unsetenv("DKIMDNSBUDGET");
  return 0;
}

static void one(const uint8_t *data, size_t size, const char *dkverify)
{
  struct qmail qq;
  char *r;
  memset(&qq, 0, sizeof qq);
  substdio_fdbuf(&qq.ss, sink, -1, qq.buf, sizeof qq.buf);
  setenv("DKVERIFY", dkverify, 1);
  qdkv_start(&qq);
  /* what qmail-smtpd writes: its Received: field, then the message */
  qmail_puts(&qq, "Received: from unknown (HELO fuzz) (127.0.0.1)\n  by fuzz with SMTP; 4 Dec 2026 12:00:00 -0000\n");
  qmail_put(&qq, (char *) data, (int) size);
  qdkv_finish(&qq);
  if (!qq.flagerr) substdio_flush(&qq.ss);
  r = qdkv_reply();
  if (show) {
    fprintf(stderr, "\n[DKVERIFY=%s] %s\n", dkverify, r ? r : "(queued)");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > (1 << 20)) return 0;
  one(data, size, FUZZ_DKVERIFY);
  one(data, size, "");
  return 0;
}
