"""qmail-remote's own RSA blinding (templates/dkim/qdkim_sign.c.j2, "RSA blinding"), checked
against OpenSSL directly: the section is compiled with a small driver and libcrypto.

Its inverse falls back to OpenSSL's when its own check fails, so the signatures the peer tests
verify would stay right even if the fast inverse were broken; this test is what notices."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "dkim" / "qdkim_sign.c.j2"

DRIVER = r"""
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/objects.h>
#include "blinding.c"

int main(void)
{
  BN_CTX *c = BN_CTX_new();
  BIGNUM *m = BN_new(), *x = BN_new(), *want = BN_new(), *got = BN_new();
  qdk_limb wx[QDK_RSA_LIMBS], wm[QDK_RSA_LIMBS], wi[QDK_RSA_LIMBS];
  int bits, k, n, fast = 0, none = 0, bad = 0, keys[] = {1024, 2048, 3072, 4096};
  unsigned char h[32], s1[512], s2[512];
  unsigned int l1, l2;
  for (bits = 2; bits <= 4200; bits += bits < 300 ? 1 : 37)
    for (k = 0; k < 10; ++k) {
      BN_rand(m, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
      BN_rand_range(x, m);
      n = (BN_num_bits(m) + 63) / 64;
      bn_to_limbs(x, wx, n); bn_to_limbs(m, wm, n);
      if (!BN_mod_inverse(want, x, m, c)) { none += limbs_inverse(wi, wx, wm, n) == -1; continue; }
      if (limbs_inverse(wi, wx, wm, n) || !limbs_to_bn(wi, n, got) || BN_cmp(got, want)) ++bad;
      else ++fast;
    }
  printf("inverses: %d fast and right, %d wrong or slow, %d without inverse\n", fast, bad, none);
  /* blinding_draw: r and t in [1, n) and over all of it, for moduli of every byte alignment
   * and a top bit pattern 11 followed by zeros (a quarter of each draw's values rejected) */
  for (bits = 9; bits <= 2100; bits += 131) {
    BIGNUM *r = BN_new(), *t = BN_new(), *half = BN_new();
    int i, out = 0, high = 0;
    BN_zero(m); BN_set_bit(m, bits - 1); BN_set_bit(m, bits - 2); BN_set_bit(m, 0);
    BN_rshift1(half, m);
    for (i = 0; i < 200; ++i) {
      if (!blinding_draw(r, t, m) || BN_is_zero(r) || BN_is_zero(t) || BN_cmp(r, m) >= 0
          || BN_cmp(t, m) >= 0) ++out;
      else high += (BN_cmp(r, half) > 0) + (BN_cmp(t, half) > 0);
    }
    printf("draws %d bits: %d out of range, %d of 400 above n/2\n", bits, out, high);
    if (out || high < 120) ++bad;
    BN_free(r); BN_free(t); BN_free(half);
  }
  for (k = 0; k < 4; ++k) {
    RSA *plain = RSA_new(), *ours;
    BIGNUM *e = BN_new();
    int diff = 0, i;
    BN_set_word(e, 65537);
    RSA_generate_key_ex(plain, keys[k], e, 0);
    ours = RSAPrivateKey_dup(plain);
    if (qdk_rsa_blinding(ours)) return 2;
    for (i = 0; i < 50; ++i) {
      RAND_bytes(h, sizeof h);
      RSA_sign(NID_sha256, h, 32, s1, &l1, plain);
      if (!RSA_sign(NID_sha256, h, 32, s2, &l2, ours)) { printf("sign failed\n"); return 3; }
      diff += l1 != l2 || memcmp(s1, s2, l1);
    }
    if (!blind_n || BN_cmp(blind_n, RSA_get0_n(ours))) {
      printf("no blinding of ours\n");
      return 4;
    }
    printf("RSA-%d: 50 signatures, %d differ from OpenSSL's\n", keys[k], diff);
    bad += diff;
  }
  return bad ? 1 : 0;
}
"""


def blinding_section() -> str:
    text = TEMPLATE.read_text()
    m = re.search(r"#if !defined\(QDK_CRYPTO_EVP\).*?#endif /\* QDK_RSA_BLINDING \*/", text, re.S)
    assert m, "the RSA blinding section is missing from qdkim_sign.c.j2"
    assert "{{" not in m.group(0) and "{%" not in m.group(0)  # plain C, no template syntax
    return m.group(0)


def test_fast_inverse_and_signatures_match_openssl(tmp_path: Path) -> None:
    (tmp_path / "blinding.c").write_text(blinding_section())
    (tmp_path / "driver.c").write_text(DRIVER)
    exe = tmp_path / "driver"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-Wno-unused-function",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    "-o", str(exe), str(tmp_path / "driver.c"), "-lcrypto"],
                   check=True, cwd=tmp_path)
    # (the driver keeps its keys to the end: leaks are not what this checks)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600,
                          env={"ASAN_OPTIONS": "detect_leaks=0", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    inv = re.search(r"inverses: (\d+) fast and right, (\d+) wrong or slow", proc.stdout)
    assert inv and int(inv.group(1)) > 3000 and inv.group(2) == "0", proc.stdout
    assert re.findall(r"(\d+) differ from OpenSSL's", proc.stdout) == ["0"] * 4, proc.stdout
    draws = re.findall(r"draws \d+ bits: (\d+) out of range, (\d+) of 400", proc.stdout)
    assert len(draws) == 16 and all(o == "0" and int(h) >= 120 for o, h in draws), proc.stdout
