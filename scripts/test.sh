#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is
# missing (Debian packages through apt-get, pyarrow through pip), then runs
# the whole test suite. Nothing is installed that is already there. Once
# this script has run, no test skips for want of a tool: the tests are
# told so (PANSCRUB_REQUIRE_*) and fail instead.
#
# What the tests drive, and why:
#   gzip zip unzip zstd xz bzip2 lz4 tar  archives written and read by the system's own tools
#   setpriv (util-linux)              runs the binary as an unprivileged user (root may write anything)
#   script (bsdutils)                 gives the binary a terminal, for the progress display test
#   chromium                          loads the HTML evidence report in a real browser
#   setfacl getfacl (acl), setfattr getfattr (attr)  set and read back the ACLs and
#                                     extended attributes a rebuilt file must keep
#   postgresql (server)               a throwaway cluster writes pg_dump archives and
#                                     restores the scrubbed ones
#   slurmctld slurmd slurm-client munge  a throwaway single-node Slurm cluster
#                                     (scripts/slurm-cluster.sh) runs the shipped
#                                     job array and its merge
#   pyarrow, duckdb, polars (PyPI)    write Parquet files as those engines do, and
#                                     read the scrubbed ones back (pyarrow, DuckDB)
#   openpyxl, XlsxWriter, python-docx, python-pptx (PyPI)  write Office documents as their own
#                                     libraries do, and open the scrubbed ones again
#   fpdf2 (PyPI)                      writes PDFs (compressed pages, one encrypted)
#   odfpy (PyPI)                      writes and reads OpenDocument text and spreadsheets
#   LibreOffice (libreoffice-writer-nogui, -calc-nogui, -impress-nogui)  saves the
#                                     test documents as OpenDocument, and opens every
#                                     scrubbed document again (soffice --headless)
#   kubernetes-validate (PyPI)        checks the shipped Kubernetes Indexed Job against
#                                     the batch/v1 Job schema of each release
set -euo pipefail
cd "$(dirname "$0")/.."

debs=()
for t in gzip zip unzip zstd xz bzip2 lz4 tar setpriv script chromium setfacl setfattr; do
  if ! command -v "$t" >/dev/null 2>&1; then
    case $t in
      xz) debs+=(xz-utils) ;;
      setfacl) debs+=(acl) ;;
      setfattr) debs+=(attr) ;;
      setpriv) debs+=(util-linux) ;;
      script) debs+=(bsdutils) ;;
      *) debs+=("$t") ;;
    esac
  fi
done
have_pg_server() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
have_pg_server || debs+=(postgresql)
have_slurm() { [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && [ -x /usr/sbin/munged ] && command -v sbatch >/dev/null; }
have_slurm || debs+=(slurmctld slurmd slurm-client munge)
have_libreoffice() { command -v soffice >/dev/null && [ -x /usr/lib/libreoffice/program/soffice.bin ] && compgen -G '/usr/lib/libreoffice/program/libsclo.so' >/dev/null && compgen -G '/usr/lib/libreoffice/program/libswlo.so' >/dev/null && compgen -G '/usr/lib/libreoffice/program/libsdlo.so' >/dev/null; }
if [ ${#debs[@]} -gt 0 ]; then
  echo "test.sh: installing ${debs[*]}"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  (export DEBIAN_FRONTEND=noninteractive
   "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${debs[@]}") >/dev/null 2>&1 \
    || echo "test.sh: could not install ${debs[*]}"
fi
if ! have_libreoffice; then
  # Without its recommends: the three programs, not Java or desktop themes.
  lo_debs=(libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui)
  echo "test.sh: installing ${lo_debs[*]}"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  (export DEBIAN_FRONTEND=noninteractive
   "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${lo_debs[@]}") >/dev/null 2>&1 \
    || echo "test.sh: could not install ${lo_debs[*]}"
fi
# Python module, and the PyPI package that provides it.
py_modules="pyarrow:pyarrow duckdb:duckdb polars:polars kubernetes_validate:kubernetes-validate openpyxl:openpyxl docx:python-docx pptx:python-pptx xlsxwriter:xlsxwriter fpdf:fpdf2 odf:odfpy"
pips=()
for mp in $py_modules; do
  python3 -c "import ${mp%%:*}" 2>/dev/null || pips+=("${mp#*:}")
done
if [ ${#pips[@]} -gt 0 ]; then
  echo "test.sh: installing ${pips[*]}"
  python3 -m pip install -q "${pips[@]}" >/dev/null 2>&1 || echo "test.sh: could not install ${pips[*]}"
fi

missing=()
for t in gzip zip unzip zstd xz bzip2 lz4 tar setpriv script chromium setfacl setfattr; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
for mp in $py_modules; do
  python3 -c "import ${mp%%:*}" 2>/dev/null || missing+=("${mp#*:}")
done
have_pg_server || missing+=(postgresql)
have_slurm || missing+=(slurm)
have_libreoffice || missing+=(libreoffice)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: still missing: ${missing[*]}; the tests that need them would fail" >&2
  exit 1
fi
export PANSCRUB_REQUIRE_PYARROW=1 PANSCRUB_REQUIRE_TOOLS=1
exec cargo test --release --locked "$@"
