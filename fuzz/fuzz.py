#!/usr/bin/env python3
"""fuzz.py: time-boxed fuzz campaigns of the achat harnesses (fuzz/), with
progress lines and a summary table: executions per second, coverage, corpus
growth and crashes.  Every crash is minimised, kept under
fuzz/regressions/<harness>/ and printed with its reproduction commands.

Exit codes: 0 nothing found; 1 a crash, leak, timeout or oracle mismatch
was found; 2 usage error; 99 build or harness infrastructure error.
(Never 77, which automake and meson read as "skipped".)
"""
import argparse
import configparser
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HARNESSES = ['framing', 'fifo', 'loop', 'case_parser']
# Harnesses that drive any implementation through its conformance adapter
# (--impl DIR, make fuzz IMPL=DIR); built per implementation under
# build/fuzz/impl/<variant>/<impl>/.  impl_framing reads the framing
# harness's inputs, so it starts from that corpus and dictionary.
IMPL_HARNESSES = ['impl_framing', 'impl_fifo']
SEEDS_OF = {'impl_framing': 'framing'}
EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 99

# Environment per harness, e.g. sanitizer options that steer a campaign
# around a known bug the harness itself cannot avoid (none at present).
HARNESS_ENV = {}

# Speed targets (fuzz/README.md), in executions per second on this machine.  They
# are reported, never asserted: speed depends on the load, so a run's exit
# status never does.
TARGETS = {'framing': 100000}

STATUS = re.compile(r'^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/'
                    r'(\S+).*?exec/s: (\d+)')
STAT = re.compile(r'^stat::(\w+):\s+(\d+)')


def log(msg):
    print(msg, flush=True)


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def read_known(root):
    """Input names (second column) of fuzz/known-failures.txt."""
    names = set()
    path = os.path.join(root, 'fuzz', 'known-failures.txt')
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and not line.startswith('#'):
                    names.add(parts[1])
    return names


def read_options(root, h):
    """The [libfuzzer] section of fuzz/<h>.options, minus its dict (the
    OSS-Fuzz layout names it differently); flags as -key=value."""
    cp = configparser.ConfigParser()
    cp.read(os.path.join(root, 'fuzz', h + '.options'))
    if not cp.has_section('libfuzzer'):
        return []
    return ['-%s=%s' % (k, v) for k, v in cp.items('libfuzzer')
            if k != 'dict']


def seeds_name(h):
    """The corpus, regressions, dictionary and options an harness uses."""
    return SEEDS_OF.get(h, h)


def bin_path(args, variant, h):
    """A harness binary of one variant (standalone, libfuzzer, afl)."""
    if h in IMPL_HARNESSES:
        return os.path.join(args.build_dir, 'fuzz', 'impl', variant,
                            args.impl_name, 'fuzz_' + h)
    return os.path.join(args.build_dir, 'fuzz', variant, 'fuzz_' + h)


def optional(flag, path):
    return [flag + path] if os.path.exists(path) else []


def sha1_name(path):
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


class Run:
    """One libFuzzer campaign of one harness."""

    def __init__(self, args, root, h, known):
        self.h, self.args, self.root = h, args, root
        self.bin = bin_path(args, 'libfuzzer', h)
        self.work = os.path.join(args.work_dir, h)
        self.corpus = os.path.join(self.work, 'corpus')
        self.seeds = os.path.join(self.work, 'seeds')
        self.artifacts = os.path.join(self.work, 'artifacts') + os.sep
        self.env = dict(os.environ, **HARNESS_ENV.get(h, {}))
        self.known = known
        self.stats = {}
        self.status = None      # last status line's fields
        self.first = None       # the INITED line's fields
        self.crashes = []
        self.error = None
        self.cpu = 0.0
        self.proc = None
        self.last_progress = time.time()

    def prepare(self):
        # A fresh run each time; new finds land in work/<h>/corpus, the
        # committed corpus and the regressions are read-only seeds.  Known
        # failures stay out: they would end the run at once.
        shutil.rmtree(self.work, ignore_errors=True)
        for d in (self.corpus, self.seeds, self.artifacts):
            os.makedirs(d, exist_ok=True)
        reg = os.path.join(self.root, 'fuzz', 'regressions', seeds_name(self.h))
        for name in sorted(os.listdir(reg)) if os.path.isdir(reg) else []:
            if name not in self.known:
                shutil.copy(os.path.join(reg, name), self.seeds)

    def command(self):
        a = self.args
        cmd = [self.bin, '-max_total_time=%d' % a.seconds,
               '-error_exitcode=1', '-timeout_exitcode=70', '-timeout=25',
               '-print_final_stats=1', '-artifact_prefix=' + self.artifacts,
               '-seed=%d' % a.seed]
        cmd += optional('-dict=', os.path.join(
            self.root, 'fuzz', seeds_name(self.h) + '.dict'))
        cmd += read_options(self.root, seeds_name(self.h))
        shipped = os.path.join(self.root, 'fuzz', 'corpus', seeds_name(self.h))
        return cmd + [self.corpus, self.seeds] + \
            ([shipped] if os.path.isdir(shipped) else [])

    def start(self):
        self.prepare()
        self.t0 = time.time()
        self.logpath = os.path.join(self.work, 'libfuzzer.log')
        self.logpos, self.partial = 0, ''
        with open(self.logpath, 'w') as out:
            self.proc = subprocess.Popen(self.command(), stdout=out,
                                         stderr=subprocess.STDOUT,
                                         env=self.env)

    def read_log(self):
        """Parses what the fuzzer has written to its log since last time."""
        with open(self.logpath, errors='replace') as f:
            f.seek(self.logpos)
            text = f.read()
            self.logpos = f.tell()
        lines = (self.partial + text).split('\n')
        self.partial = lines.pop()
        for line in lines:
            self.parse(line)

    def progress(self):
        self.read_log()
        now = time.time()
        if self.status and now - self.last_progress >= self.args.progress:
            self.last_progress = now
            s = self.status
            log('[%s] %4.0fs  #%-10d cov %-5d ft %-6d corpus %-5d exec/s %d'
                % (self.h, now - self.t0, s['execs'], s['cov'], s['ft'],
                   s['corp'], s['execs_s']))

    def reap(self):
        """Whether the fuzzer has exited (its rusage kept for the CPU
        figure; Popen's own wait is never used)."""
        pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.read_log()
        if self.partial:
            self.parse(self.partial)
        self.finish(rusage)
        return True

    def parse(self, line):
        m = STATUS.match(line)
        if m:
            f = dict(execs=int(m.group(1)), kind=m.group(2),
                     cov=int(m.group(3)), ft=int(m.group(4)),
                     corp=int(m.group(5)), execs_s=int(m.group(7)))
            if f['kind'] == 'INITED' or self.first is None:
                self.first = f
            self.status = f
        m = STAT.match(line)
        if m:
            self.stats[m.group(1)] = int(m.group(2))

    def finish(self, rusage):
        self.cpu = rusage.ru_utime + rusage.ru_stime if rusage else 0.0
        rc = self.proc.returncode
        arts = sorted(f for f in os.listdir(self.artifacts)
                      if not f.startswith('slow-unit-'))
        if arts:
            for a in arts:
                self.crashes.append(self.keep_crash(
                    os.path.join(self.artifacts, a)))
        elif rc != 0:
            self.error = 'libFuzzer exited %d without an artifact (see %s)' \
                % (rc, os.path.join(self.work, 'libfuzzer.log'))

    def keep_crash(self, path):
        """Minimises a crash input and keeps it as a regression input, if
        the libFuzzer build reproduces it (AFL++ finds are checked there)."""
        kind = os.path.basename(path).split('-')[0]
        if kind.startswith('id:'):
            kind = 'crash'
        why = self.replay(path)
        if why is None:
            return dict(kind='unreproduced ' + kind, path=self.rel(path),
                        why='the libFuzzer build does not fail on it',
                        repro=[self.rel(self.bin) + ' ' + self.rel(path)])
        small = path + '.min'
        subprocess.run([self.bin, '-minimize_crash=1', '-runs=20000',
                        '-max_total_time=%d' % self.args.minimize_seconds,
                        '-exact_artifact_path=' + small, path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=self.env)
        keep = small if os.path.exists(small) and \
            self.replay(small) is not None else path
        if not self.args.no_save:
            reg = os.path.join(self.root, 'fuzz', 'regressions', self.h)
            os.makedirs(reg, exist_ok=True)
            dest = os.path.join(reg, sha1_name(keep))
            shutil.copy(keep, dest)
            keep = dest
        sa = bin_path(self.args, 'standalone', self.h)
        return dict(kind=kind, path=self.rel(keep), why=self.replay(keep),
                    saved=not self.args.no_save,
                    repro=['%s %s' % (self.rel(self.bin), self.rel(keep)),
                           '%s %s' % (self.rel(sa), self.rel(keep))])

    def replay(self, path):
        """The first failure line of the libFuzzer build on path, or None
        if it passes."""
        res = subprocess.run([self.bin, path], capture_output=True,
                             text=True, errors='replace', env=self.env)
        if res.returncode == 0:
            return None
        for line in res.stdout.splitlines() + res.stderr.splitlines():
            if line.startswith('fuzz:') or 'ERROR:' in line or \
                    line.startswith('SUMMARY'):
                return line.strip()[:160]
        return 'exit status %d' % res.returncode

    def rel(self, path):
        """path relative to the checkout when inside it (shorter commands
        to copy), else absolute."""
        rel = os.path.relpath(path, self.root)
        return path if rel.startswith('..') else rel

    def row(self):
        st, first = self.status or {}, self.first or {}
        execs = self.stats.get('number_of_executed_units', st.get('execs', 0))
        return dict(h=self.h, engine='libFuzzer',
                    secs=self.args.seconds, execs=execs,
                    rate=self.stats.get('average_exec_per_sec',
                                        st.get('execs_s', 0)),
                    cpu_rate=int(execs / self.cpu) if self.cpu else 0,
                    cov=st.get('cov', 0), ft=st.get('ft', 0),
                    corp0=first.get('corp', 0), corp1=st.get('corp', 0),
                    new=self.stats.get('new_units_added', 0),
                    crashes=len(self.crashes), rss=self.stats.get(
                        'peak_rss_mb', 0))


def run_libfuzzer(args, root, known):
    runs = [Run(args, root, h, known) for h in args.harness]
    for r in runs:
        if not os.access(r.bin, os.X_OK):
            log('fuzz.py: %s is missing (make fuzz-libfuzzer)' % r.bin)
            sys.exit(EXIT_INFRA)
    pending, active, done = list(runs), [], []
    while pending or active:
        while pending and len(active) < args.jobs:
            r = pending.pop(0)
            log('fuzz.py: %s: %d s of libFuzzer: %s' % (
                r.h, args.seconds, ' '.join(
                    os.path.relpath(c, root) if c.startswith(root) else c
                    for c in r.command())))
            r.start()
            active.append(r)
        for r in list(active):
            r.progress()
            if r.reap():
                active.remove(r)
                done.append(r)
        time.sleep(0.25)
    if args.update_corpus:
        for r in done:
            merge(args, r, root)
    return done


VALGRIND = ['valgrind', '-q', '--error-exitcode=88', '--leak-check=full',
            '--errors-for-leak-kinds=definite,indirect']


def screen(args, h, paths):
    """The inputs among paths that fail the standalone build (run under
    valgrind when it is installed).  Campaign builds steer around known
    bugs; the standalone replay does not, so an input that reaches one must
    not enter the committed corpus."""
    if not paths:
        return set()
    sa = bin_path(args, 'standalone', h)
    cmd = ([] if shutil.which('valgrind') is None else VALGRIND) + \
        [sa, '-each'] + paths
    res = subprocess.run(cmd, capture_output=True, text=True,
                         errors='replace')
    return {line.split(' ', 2)[2] for line in res.stderr.splitlines()
            if line.startswith('standalone: FAIL ')}


def merge(args, r, root):
    """Adds the campaign's finds that bring new coverage to the committed
    corpus (content-hash names, as libFuzzer writes them), minus those that
    fail the standalone build."""
    dest = os.path.join(root, 'fuzz', 'corpus', r.h)
    tmp = os.path.join(r.work, 'merged')
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(dest, tmp)
    before = set(os.listdir(dest))
    subprocess.run([r.bin, '-merge=1', '-timeout=25', tmp, r.corpus],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=r.env)
    new = [os.path.join(tmp, f) for f in sorted(os.listdir(tmp))
           if f not in before]
    bad = screen(args, r.h, new)
    for path in new:
        if path not in bad:
            shutil.copy(path, dest)
    log('fuzz.py: %s: corpus %d -> %d files (%d more fail the standalone '
        'build: a known bug, left out)' % (
            r.h, len(before), len(os.listdir(dest)), len(bad)))


def afl_stats(path):
    stats = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(':')
                stats[k.strip()] = v.strip()
    return stats


def reap_orphans(binaries):
    """Kills, by pid, the orphaned processes running one of binaries: fork
    servers this script's afl-fuzz started and left behind."""
    targets = {os.path.realpath(b) for b in binaries}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            exe = os.readlink('/proc/%s/exe' % pid)
            with open('/proc/%s/stat' % pid) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if exe in targets and ppid == 1:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_afl(args, root, known):
    """AFL++ campaigns (afl-fuzz -V), one harness after the other."""
    rows, crashes = [], []
    for h in args.harness:
        binary = bin_path(args, 'afl', h)
        if not os.access(binary, os.X_OK):
            log('fuzz.py: %s is missing (make fuzz-afl; needs afl++)' % binary)
            sys.exit(EXIT_INFRA)
        work = os.path.join(args.work_dir, h, 'afl')
        seeds = os.path.join(work, 'in')
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(seeds)
        for d in ('corpus', 'regressions'):
            src = os.path.join(root, 'fuzz', d, seeds_name(h))
            for name in sorted(os.listdir(src)) if os.path.isdir(src) else []:
                if name not in known:
                    shutil.copy(os.path.join(src, name), seeds)
        env = dict(os.environ, AFL_NO_UI='1', AFL_SKIP_CPUFREQ='1',
                   AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES='1',
                   AFL_NO_AFFINITY='1', AFL_SKIP_CRASHES='1',
                   **HARNESS_ENV.get(h, {}))
        if 'ASAN_OPTIONS' in env:  # afl-fuzz insists on these two
            env['ASAN_OPTIONS'] += ':abort_on_error=1:symbolize=0'

        if not os.listdir(seeds):  # afl-fuzz needs one input to start
            with open(os.path.join(seeds, 'empty'), 'wb') as f:
                f.write(b'\0')
        cmd = ['afl-fuzz', '-V', str(args.afl_seconds), '-m', 'none',
               '-i', seeds, '-o', os.path.join(work, 'out')]
        dict_path = os.path.join(root, 'fuzz', seeds_name(h) + '.dict')
        if os.path.exists(dict_path):
            cmd += ['-x', dict_path]
        if os.path.exists(binary + '.cmplog'):
            cmd += ['-c', binary + '.cmplog']
        cmd += ['--', binary]
        log('fuzz.py: %s: %d s of AFL++' % (h, args.afl_seconds))
        # In a session of its own, and its group killed when it is done:
        # afl-fuzz -V can leave fork servers behind (stopped, in sessions
        # of their own, which reap_orphans finds).
        with open(os.path.join(work, 'afl.log'), 'w') as out:
            proc = subprocess.Popen(cmd, stdout=out,
                                    stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
            rc = proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reap_orphans([binary, binary + '.cmplog'])
        st = afl_stats(os.path.join(work, 'out', 'default', 'fuzzer_stats'))
        if rc != 0 or not st:
            log('fuzz.py: %s: afl-fuzz exited %d (see %s)' % (
                h, rc, os.path.join(work, 'afl.log')))
            rows.append(dict(h=h, engine='AFL++', error=True))
            continue
        cdir = os.path.join(work, 'out', 'default', 'crashes')
        found = [f for f in sorted(os.listdir(cdir)) if f.startswith('id:')] \
            if os.path.isdir(cdir) else []
        for f in found:
            r = Run(args, root, h, known)
            crashes.append((h, r.keep_crash(os.path.join(cdir, f))))
        rows.append(dict(
            h=h, engine='AFL++', secs=args.afl_seconds,
            execs=int(st.get('execs_done', 0)),
            rate=int(float(st.get('execs_per_sec', 0))), cpu_rate=0,
            cov=st.get('bitmap_cvg', '?'), ft=st.get('edges_found', '?'),
            corp0=int(st.get('corpus_count', 0)) -
            int(st.get('corpus_found', 0)),
            corp1=int(st.get('corpus_count', 0)),
            new=int(st.get('corpus_found', 0)), crashes=len(found), rss=0))
    return rows, crashes


def table(rows):
    head = ('harness', 'engine', 'secs', 'execs', 'exec/s', 'exec/cpu-s',
            'cov', 'ft', 'corpus', 'new', 'crashes')
    lines = [head]
    for r in rows:
        if r.get('error'):
            lines.append((r['h'], r['engine']) + ('error',) + ('',) * 8)
            continue
        lines.append((r['h'], r['engine'], str(r['secs']), str(r['execs']),
                      str(r['rate']), str(r['cpu_rate'] or '-'),
                      str(r['cov']), str(r['ft']),
                      '%s->%s' % (r['corp0'], r['corp1']), str(r['new']),
                      str(r['crashes'])))
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    out = []
    for i, x in enumerate(lines):
        out.append('  '.join(c.rjust(w) if j > 1 else c.ljust(w)
                             for j, (c, w) in enumerate(zip(x, widths))))
        if i == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def target_report(rows):
    """Lines comparing each row of a harness that has a speed target with
    it, wall clock and per CPU second."""
    def verdict(rate, want):
        return '%d (%s)' % (rate, 'met' if rate >= want else 'NOT met')
    out = []
    for r in rows:
        want = TARGETS.get(r['h'])
        if want is None or r.get('error'):
            continue
        cpu = verdict(r['cpu_rate'], want) if r['cpu_rate'] else \
            'not measured'
        out.append('%s (%s): target %d exec/s; wall clock %s, per CPU '
                   'second %s' % (r['h'], r['engine'], want,
                                  verdict(r['rate'], want), cpu))
    return out


def work_dir(args):
    """build/fuzz/work/<pid>: this run's own directory, so that runs in
    parallel (a campaign and make check's smoke run) never share one.
    Directories of runs that are gone are removed."""
    top = os.path.join(args.build_dir, 'fuzz', 'work')
    os.makedirs(top, exist_ok=True)
    for name in os.listdir(top):
        path = os.path.join(top, name)
        if not name.isdigit():
            shutil.rmtree(path, ignore_errors=True)  # older layouts
            continue
        try:
            os.kill(int(name), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass
    return os.path.join(top, str(os.getpid()))


def build(args, root):
    if args.impl:
        targets = ['IMPL=' + args.impl, 'fuzz-impl-standalone',
                   'fuzz-impl-libfuzzer'] + \
            (['fuzz-impl-afl'] if args.afl else [])
    else:
        targets = ['fuzz-standalone', 'fuzz-libfuzzer'] + \
            (['fuzz-afl'] if args.afl else [])
    cmd = ['make', '--no-print-directory', '-C', root,
           'BUILD=' + os.path.relpath(args.build_dir, root)] + targets
    log('fuzz.py: building: ' + ' '.join(cmd[3:]))
    if subprocess.call(cmd) != 0:
        log('fuzz.py: build failed')
        sys.exit(EXIT_INFRA)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='Exit codes: 0 nothing found, 1 crash or mismatch found, '
               '2 usage, 99 build or harness error.')
    ap.add_argument('--seconds', type=int, default=60,
                    help='libFuzzer time per harness (default 60)')
    ap.add_argument('--harness', action='append',
                    choices=HARNESSES + IMPL_HARNESSES,
                    help='harness to fuzz (repeatable; default: all of the '
                         'reference, or with --impl both adapter harnesses)')
    ap.add_argument('--impl', default=None, metavar='DIR',
                    help='fuzz the implementation whose conformance adapter '
                         'is in DIR (as make conformance IMPL=DIR) through '
                         'the adapter harnesses ' + ', '.join(IMPL_HARNESSES) +
                         '; its finds are left in the work directory, never '
                         'added to fuzz/regressions/')
    ap.add_argument('--jobs', type=int, default=1,
                    help='harnesses fuzzed at once (default 1, so the '
                         'exec/s figures are comparable)')
    ap.add_argument('--afl', action='store_true',
                    help='also run AFL++ (afl-fuzz -V) on each harness')
    ap.add_argument('--afl-seconds', type=int, default=None,
                    help='AFL++ time per harness (default: --seconds)')
    ap.add_argument('--build-dir', default='build',
                    help='the build directory (default build)')
    ap.add_argument('--no-build', action='store_true',
                    help='use the binaries already built')
    ap.add_argument('--seed', type=int, default=None,
                    help='libFuzzer seed (default: from the clock, printed)')
    ap.add_argument('--progress', type=float, default=10.0,
                    help='seconds between progress lines (default 10)')
    ap.add_argument('--minimize-seconds', type=int, default=60,
                    help='time to minimise each crash (default 60)')
    ap.add_argument('--update-corpus', action='store_true',
                    help='merge new coverage into fuzz/corpus/<harness>/')
    ap.add_argument('--no-save', action='store_true',
                    help='do not add crashes to fuzz/regressions/')
    args = ap.parse_args()
    if args.seconds < 1 or args.jobs < 1:
        ap.error('--seconds and --jobs must be at least 1')
    root = repo_root()
    if args.impl:
        args.impl_name = os.path.basename(os.path.abspath(args.impl))
        args.harness = args.harness or IMPL_HARNESSES
        if set(args.harness) - set(IMPL_HARNESSES):
            ap.error('with --impl, only the adapter harnesses: ' +
                     ', '.join(IMPL_HARNESSES))
        if args.update_corpus:
            ap.error('--update-corpus keeps the reference\'s corpora; '
                     'not with --impl')
        args.no_save = True  # another implementation's bugs are its own
    else:
        args.impl_name = None
        args.harness = args.harness or HARNESSES
        if set(args.harness) & set(IMPL_HARNESSES):
            ap.error('the adapter harnesses need --impl DIR')
    args.build_dir = os.path.abspath(os.path.join(root, args.build_dir))
    args.afl_seconds = args.afl_seconds or args.seconds
    if args.seed is None:
        args.seed = int(time.time()) % 1000000007
    log('fuzz.py: seed %d (rerun with --seed %d)' % (args.seed, args.seed))
    if not args.no_build:
        build(args, root)
    args.work_dir = work_dir(args)
    log('fuzz.py: work directory %s' % args.work_dir)
    known = read_known(root)
    runs = run_libfuzzer(args, root, known)
    rows = [r.row() for r in runs]
    crashes = [(r.h, c) for r in runs for c in r.crashes]
    errors = [(r.h, r.error) for r in runs if r.error]
    if args.afl:
        arows, acr = run_afl(args, root, known)
        rows += arows
        crashes += acr
        errors += [(r['h'], 'afl-fuzz failed') for r in arows
                   if r.get('error')]
    log('\nfuzz.py: summary (exec/s: wall clock, as libFuzzer reports it; '
        'exec/cpu-s: per CPU second of the fuzzer, load-independent)')
    log(table(rows))
    targets = target_report(rows)
    if targets:
        log('\nfuzz.py: speed targets (measured, not asserted: the exit '
            'status never depends on them)')
        for line in targets:
            log('  ' + line)
    unrepro = [(h, c) for h, c in crashes if c['kind'].startswith('unrep')]
    crashes = [(h, c) for h, c in crashes if (h, c) not in unrepro]
    for h, c in crashes:
        where = 'kept as %s' % c['path'] if c['saved'] else \
            'left at %s (--no-save: copy it into fuzz/regressions/%s/ to ' \
            'keep it; the next fuzz.py run removes it)' % (c['path'], h)
        log('\n%s: %s %s\n  %s\n  reproduce: %s' % (
            h, c['kind'], where, c['why'], '\n  or:        '.join(
                c['repro'])))
    for h, c in unrepro:
        log('\n%s: %s %s: %s (not kept)' % (h, c['kind'], c['path'],
                                           c['why']))
    for h, e in errors:
        log('\n%s: %s' % (h, e))
    if crashes or unrepro:
        return EXIT_FOUND
    return EXIT_INFRA if errors else EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
