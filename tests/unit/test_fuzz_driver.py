"""patchkit.testing.fuzz, the parts that need no clang: libFuzzer's figures read from its output,
the link line of each target, the run directory, and the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from patchkit.cli import cli
from patchkit.testing import fuzz

OUTPUT = """\
INFO: Seed: 1234
#2\tINITED cov: 900 ft: 1800 corp: 40/300Kb exec/s: 0 rss: 90Mb
#4096\tpulse  cov: 1054 ft: 2649 corp: 191/11125b lim: 79 exec/s: 1024 rss: 425Mb
#35890\tDONE   cov: 1107 ft: 3134 corp: 367/18Kb lim: 79 exec/s: 1709 rss: 515Mb
Done 35890 runs in 21 second(s)
stat::number_of_executed_units: 35890
stat::average_exec_per_sec:     1709
stat::new_units_added:          857
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              515
"""

CRASH = """\
==42==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011
artifact_prefix='/w/findings/verify/'; Test unit written to /w/findings/verify/crash-da39a3ee
stat::number_of_executed_units: 12
"""


def test_parse_takes_the_final_figures() -> None:
    st = fuzz.parse(OUTPUT)
    assert (st.execs, st.exec_per_s, st.cov, st.ft, st.corpus) == (35890, 1709, 1107, 3134, 367)
    assert st.new_units == 857 and st.peak_rss_mb == 515 and st.findings == ()


def test_parse_names_the_input_that_crashed() -> None:
    st = fuzz.parse(CRASH)
    assert st.findings == ("crash-da39a3ee",) and st.execs == 12 and st.cov == 0


def test_each_target_links_its_own_half_and_the_libraries(tmp_path: Path) -> None:
    steps = fuzz.link_steps(tmp_path / "root", tmp_path / "out")
    assert [s.name for s in steps] == ["fuzz verify: compile", "fuzz verify: link",
                                       "fuzz sign: compile", "fuzz sign: link",
                                       "fuzz roundtrip: compile", "fuzz roundtrip: link"]
    link = {s.name.split()[1].rstrip(":"): s.argv for s in steps if s.name.endswith("link")}
    q = tmp_path / "root" / "build" / "qmail"
    assert str(q / "qdkim_verify.o") in link["verify"]
    assert str(q / "qdkim_sign.o") not in link["verify"]
    assert str(q / "qdkim_sign.o") in link["sign"]
    assert {str(q / "qdkim_sign.o"), str(q / "qdkim_verify.o")} <= set(link["roundtrip"])
    for argv in link.values():
        assert argv[0] == "clang++" and "-fsanitize=fuzzer,address,undefined" in argv
        assert str(tmp_path / "root" / "prefix" / "lib" / "libdkim.a") in argv
    opts = fuzz.options("netqmail-1.06")
    assert opts.sanitize and opts.cc == "clang" and "-fsanitize=fuzzer-no-link" in opts.optimize


def test_run_directory_has_the_keys_and_controls(tmp_path: Path) -> None:
    run = fuzz.lay_out(tmp_path / "run")
    assert (run / "keys" / "example.org" / "rsa").read_bytes().startswith(b"-----BEGIN")
    assert (run / "keys" / "ed25519").read_bytes().startswith(b"-----BEGIN")
    assert (run / "control" / "me").read_text() == fuzz.ME + "\n"
    assert (run / "control" / "dksign").read_text() == "keys/%/rsa\nkeys/ed25519\n"


def test_fuzz_argv_keeps_the_seeds_read_only(tmp_path: Path) -> None:
    argv = fuzz.fuzz_argv(Path("/t/fuzz-sign"), tmp_path / "corpus", tmp_path / "seeds",
                          tmp_path / "art", 60)
    assert argv[0] == "/t/fuzz-sign" and "-max_total_time=60" in argv
    assert argv[-2:] == [str(tmp_path / "corpus"), str(tmp_path / "seeds")]  # new units: first
    assert f"-artifact_prefix={tmp_path / 'art'}/" in argv


def test_cli_offers_fuzz_and_refuses_an_unknown_target() -> None:
    r = CliRunner().invoke(cli, ["fuzz", "--help"])
    assert r.exit_code == 0 and "--seconds" in r.output and "--regressions" in r.output
    r = CliRunner().invoke(cli, ["fuzz", "--target", "nosuch"])
    assert r.exit_code == 2 and "nosuch" in r.output


def test_corpus_counts_distinct_inputs(tmp_path: Path) -> None:
    assert fuzz.write_corpus(tmp_path / "c", [b"a", b"b", b"a"]) == 2
    assert len(list((tmp_path / "c").iterdir())) == 2


COVERAGE = """\
COVERAGE:
COVERED_FUNC: hits: 262 edges: 3/5 res_nquery /w/templates/fuzz/fuzz.h:141
COVERED_FUNC: hits: 9 edges: 30/40 qdkv_finish /w/v/build/qmail/qdkim_verify.c:700
UNCOVERED_FUNC: hits: 0 edges: 0/10 logerr /w/v/build/qmail/qdkim_verify.c:179
COVERED_FUNC: hits: 4 edges: 5/8 qdk_hdr_end /w/v/build/qmail/qdkim_util.c:40
COVERED_FUNC: hits: 4 edges: 7/9 f(int, char) const /w/v/build/libdkim/src/dkimverify.cpp:9
UNCOVERED_FUNC: hits: 0 edges: 0/3 dk_sign /w/v/build/libdomainkeys/domainkeys.c:12
COVERED_FUNC: hits: 4 edges: 2/2 substdio_put /w/v/build/qmail/substdo.c:50
  UNCOVERED_PC: /w/v/build/qmail/qdkim_verify.c:181
"""


def test_coverage_is_summed_per_component() -> None:
    assert fuzz.parse_coverage(COVERAGE) == {
        "libdkim": (7, 9), "libdomainkeys": (0, 3), "qdkim_util.c": (5, 8),
        "qdkim_verify.c": (30, 50)}
