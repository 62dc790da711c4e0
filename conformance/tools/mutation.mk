# conformance/tools/mutation.mk: mutation testing of the reference against the
# conformance suite (conformance/tools/mutate.py).  Included by the top Makefile.
#   make mutation          the whole campaign: every mutant of ref/src/*.c,
#                          all held in one mutant-schemata build (the mutant
#                          is chosen at run time), each run only on the
#                          conformance runs that reach its mutation point and
#                          stopped at its first kill; report in
#                          build/mutation/ (report.txt with the survivors and
#                          their diffs; mutation-report.json, Stryker's
#                          schema).  MUTATION_ARGS=--unit also runs the
#                          reference's unit tests on the survivors, as
#                          information (it adds tens of minutes: a survivor
#                          can make a unit test wait for its timeout).
#                          Figures and time: docs/mutation.md.  It fails below MUTATION_TARGET
#                          percent of the non-equivalent mutants killed.
#   make mutation-sample   a fixed sample of MUTATION_SAMPLE mutants (the seed
#                          fixes which), run by `make check`: the same
#                          machinery end to end (schemata build, coverage,
#                          first-kill stages, the ASan stage for the
#                          survivor, compiler equivalence, the reports) with
#                          one baseline run.  It fails below
#                          MUTATION_SAMPLE_TARGET: a floor that catches a
#                          suite that stopped killing, not a measurement (10
#                          mutants cannot measure a rate to a few percent).
#                          At a true rate of 75-80%, a sample of 6 with a
#                          70% floor fails one seed in two or three; 10 at
#                          60% fails one in 13 to 30.
# Knobs: MUTATION_JOBS, MUTATION_ARGS (more mutate.py options, e.g.
# --files framer.c).

MUTATION_TARGET ?= 90
# Mutants at once.  A mutant's runs mostly wait (pass timeouts, slow peers),
# so two at once leave two cores half idle: a 200-mutant sample ran at 0.90
# mutants/s with 4 (both cores busy), against 0.5 with 2 (docs/mutation.md).
MUTATION_JOBS ?= 4
MUTATION_SAMPLE ?= 10
MUTATION_SEED ?= 1
MUTATION_SAMPLE_TARGET ?= 60
MUTATION_ARGS ?=

mutation: deps
	python3 conformance/tools/mutate.py --jobs $(MUTATION_JOBS) \
	    --min-score $(MUTATION_TARGET) $(MUTATION_ARGS)

mutation-sample: deps
	python3 conformance/tools/mutate.py --sample $(MUTATION_SAMPLE) --seed $(MUTATION_SEED) \
	    --jobs $(MUTATION_JOBS) --min-score $(MUTATION_SAMPLE_TARGET) --baseline-runs 1 \
	    --build build/mutation-sample $(MUTATION_ARGS)

.PHONY: mutation mutation-sample
