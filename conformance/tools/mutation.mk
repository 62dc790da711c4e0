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
#                          10 at a 60% floor fails one seed in about 1,700
#                          at the whole campaign's 92% within reach, one in
#                          30 at 80% (a sample of 6 at 70% failed one seed
#                          in two or three at 75-80%).
# Knobs: MUTATION_JOBS, MUTATION_ARGS (more mutate.py options, e.g.
# --files framer.c).

MUTATION_TARGET ?= 90
# Mutants at once.  A mutant's runs mostly wait (pass timeouts, slow peers),
# so two at once leave two cores half idle: the whole campaign took 38 min
# on 2 cores with 4 at once, 70 with 2, for the same CPU (docs/mutation.md).
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
