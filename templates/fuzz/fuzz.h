/* fuzz.h: what both libFuzzer targets share (patchkit, templates/fuzz).
 *
 * The targets link our DKIM code (qdkim_*.o of a prepared qmail tree) and the patched libdkim and
 * libdomainkeys as they are; only the resolver is replaced, at link time: res_nquery() (libdkim,
 * with its res_ninit/res_nclose) and res_query() (libdomainkeys) answer from the test keys below,
 * in DNS wire format, so the libraries' own reply parsing runs on every lookup.
 *
 * The target runs in a directory laid out by patchkit.testing.fuzz:
 *   keys/example.org/rsa  RSA-1024 test key (selector "rsa")
 *   keys/ed25519          Ed25519 test key (selector "ed25519")
 *   control/me, control/dksign
 * Names answered: rsa._domainkey.* (RSA record), ed25519._domainkey.* (Ed25519 record),
 * temp._domainkey.* (a temporary failure), anything else NXDOMAIN. */
#ifndef QDKIM_FUZZ_H
#define QDKIM_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <resolv.h>
#include <arpa/nameser.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define FUZZ_RSA_KEY "keys/example.org/rsa"
#define FUZZ_ED_KEY "keys/ed25519"

static char fuzz_rsa_txt[1024];
static char fuzz_ed_txt[256];

static void fuzz_die(const char *what, const char *path)
{
  fprintf(stderr, "fuzz target: %s %s (run it in the directory patchkit.testing.fuzz lays out)\n",
          what, path);
  exit(2);
}

static EVP_PKEY *fuzz_read_key(const char *path)
{
  FILE *f = fopen(path, "r");
  EVP_PKEY *pk;
  if (!f) fuzz_die("cannot open", path);
  pk = PEM_read_PrivateKey(f, 0, 0, 0);
  fclose(f);
  if (!pk) fuzz_die("no PEM private key in", path);
  return pk;
}

/* the key records, from the private keys: p= is the SubjectPublicKeyInfo (RSA) or the raw
 * public key (Ed25519, RFC 8463) */
static void fuzz_load_records(void)
{
  unsigned char der[1024];
  unsigned char *p = der;
  unsigned char raw[32];
  size_t rawlen = sizeof raw;
  unsigned char b64[1024];
  int n;
  EVP_PKEY *pk = fuzz_read_key(FUZZ_RSA_KEY);
  n = i2d_PUBKEY(pk, 0);
  if (n <= 0 || n > (int) sizeof der || i2d_PUBKEY(pk, &p) != n) fuzz_die("cannot encode", FUZZ_RSA_KEY);
  EVP_EncodeBlock(b64, der, n);
  snprintf(fuzz_rsa_txt, sizeof fuzz_rsa_txt, "v=DKIM1; k=rsa; p=%s", (char *) b64);
  EVP_PKEY_free(pk);
  pk = fuzz_read_key(FUZZ_ED_KEY);
  if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1 || rawlen != 32) fuzz_die("not Ed25519:", FUZZ_ED_KEY);
  EVP_EncodeBlock(b64, raw, 32);
  snprintf(fuzz_ed_txt, sizeof fuzz_ed_txt, "v=DKIM1; k=ed25519; p=%s", (char *) b64);
  EVP_PKEY_free(pk);
}

static int fuzz_prefix(const char *name, const char *sel)
{
  size_t n = strlen(sel);
  return !strncasecmp(name, sel, n) && !strncasecmp(name + n, "._domainkey.", 12);
}

/* a reply as a server would give it: header, question, one TXT answer in 255-byte strings.
 * Returns its length (possibly more than anslen: glibc does too, and callers must check), -1 with
 * *herr set when the name is not answered. */
static int fuzz_answer(const char *name, int class, int type, unsigned char *answer, int anslen,
                       int *herr)
{
  unsigned char msg[4096];
  unsigned int n = 0;
  const char *txt;
  const char *s;
  size_t tlen;
  size_t i;
  unsigned int rdlen;
  if (fuzz_prefix(name, "temp")) { *herr = TRY_AGAIN; return -1; }
  if (class != C_IN || type != T_TXT) { *herr = NO_DATA; return -1; }
  if (fuzz_prefix(name, "rsa")) txt = fuzz_rsa_txt;
  else if (fuzz_prefix(name, "ed25519")) txt = fuzz_ed_txt;
  else { *herr = HOST_NOT_FOUND; return -1; }
  memset(msg, 0, HFIXEDSZ);
  msg[2] = 0x85; msg[3] = 0x80;   /* QR AA RD, RA, NOERROR */
  msg[5] = 1; msg[7] = 1;         /* one question, one answer */
  n = HFIXEDSZ;
  for (s = name; *s;) {
    const char *dot = strchr(s, '.');
    size_t l = dot ? (size_t) (dot - s) : strlen(s);
    if (!l || l > 63 || n + l + 2 > 300) { *herr = NO_RECOVERY; return -1; }
    msg[n++] = (unsigned char) l;
    memcpy(msg + n, s, l); n += l;
    s += l; if (*s) ++s;
  }
  msg[n++] = 0;
  msg[n++] = 0; msg[n++] = T_TXT; msg[n++] = 0; msg[n++] = C_IN;
  msg[n++] = 0xc0; msg[n++] = HFIXEDSZ;  /* the question's name */
  msg[n++] = 0; msg[n++] = T_TXT; msg[n++] = 0; msg[n++] = C_IN;
  msg[n++] = 0; msg[n++] = 0; msg[n++] = 0x0e; msg[n++] = 0x10;  /* TTL 3600 */
  tlen = strlen(txt);
  rdlen = (unsigned int) (tlen + (tlen + 254) / 255);
  msg[n++] = (unsigned char) (rdlen >> 8); msg[n++] = (unsigned char) rdlen;
  for (i = 0; i < tlen; i += 255) {
    size_t l = tlen - i < 255 ? tlen - i : 255;
    msg[n++] = (unsigned char) l;
    memcpy(msg + n, txt + i, l); n += l;
  }
  memcpy(answer, msg, n < (unsigned int) anslen ? n : (unsigned int) anslen);
  return (int) n;
}

/* the link-time substitutes for glibc's resolver */
int __res_ninit(res_state st)
{
  memset(st, 0, sizeof *st);
  st->nscount = 1;
  st->retrans = 5;
  st->retry = 1;
  return 0;
}

void __res_nclose(res_state st) { (void) st; }

int res_nquery(res_state st, const char *name, int class, int type, unsigned char *answer,
               int anslen)
{
  int herr = 0;
  int r = fuzz_answer(name, class, type, answer, anslen, &herr);
  if (r < 0) st->res_h_errno = herr;
  return r;
}

int res_query(const char *name, int class, int type, unsigned char *answer, int anslen)
{
  int herr = 0;
  int r = fuzz_answer(name, class, type, answer, anslen, &herr);
  if (r < 0) h_errno = herr;
  return r;
}

int res_search(const char *name, int class, int type, unsigned char *answer, int anslen)
{
  return res_query(name, class, type, answer, anslen);
}

#endif
